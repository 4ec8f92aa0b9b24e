/**
 * How a request reached the core, which decides its HTTP status:
 * `stateless` (2026-07-28, an error carries its own status), `streamable`
 * (2025-03-26 … 2025-11-25: 200, 400 for a failed initialize) or `legacy`
 * (2024-11-05: the POST is answered 202, the response goes on the SSE stream);
 * a request over a limit is 429 in each (request-gate.ts).
 */
export type McpTransport = "stateless" | "streamable" | "legacy";
