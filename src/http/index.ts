export { type BodyResult, readBody } from "./body.js";
export {
  createMcpHttp,
  eventLogBounds,
  type McpHttp,
  type McpTransport,
  type StreamableHttpOptions,
} from "./mcp-http.js";
export { createMetadataHandler } from "./metadata.js";
export { createOriginPolicy, type OriginPolicy } from "./origin.js";
export { refuse } from "./reply.js";
export type { RequestLimit, RequestLimits } from "./request-limits.js";
export { type HttpHandler, type HttpListener, listen } from "./server.js";
export { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./session-limits.js";
