import { Code, ConnectError } from "@connectrpc/connect";
import { describeRpcError, statusMapping } from "../invoke/index.js";
import { ErrorCode, failure, JsonRpcError, type JsonRpcResponse, type RequestId } from "./jsonrpc.js";

/**
 * The caller lacks scopes an operation needs; transports answer it with HTTP 403
 * and an `insufficient_scope` challenge (RFC 6750 §3.1; MCP authorization, "Scope Challenge").
 */
export class InsufficientScopeError extends Error {
  override readonly name = "InsufficientScopeError";
  constructor(readonly required: readonly string[]) {
    super(`insufficient scope: ${required.join(" ")}`);
  }
}

/**
 * A missing scope as a JSON-RPC error, where an HTTP 403 challenge can no
 * longer be sent (the 2024-11-05 stream, an SSE response already started):
 * the request is refused as sent, naming the scopes it needs (RFC 6750 §3.1's
 * `insufficient_scope`, carried in `data`).
 */
export function insufficientScopeFailure(id: RequestId, err: InsufficientScopeError): JsonRpcResponse {
  const scope = err.required.join(" ");
  return failure(id, ErrorCode.InvalidRequest, `Forbidden: this request needs the scope ${scope}`, {
    error: "insufficient_scope",
    scope,
  });
}

/** MCP-specific JSON-RPC error codes. */
export const McpErrorCode = {
  /** MCP 2025-11-25 server/resources "Error Handling". */
  ResourceNotFound: -32002,
  /** MCP 2026-07-28 basic/transports: header and body disagree. */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28 basic/lifecycle "Missing Required Capabilities". */
  MissingRequiredClientCapability: -32021,
  /** MCP 2026-07-28 basic/lifecycle "Version Negotiation". */
  UnsupportedProtocolVersion: -32022,
  /**
   * The gateway's own, not MCP's: a request over a limit per caller or per
   * session (config `limits`), answered with HTTP 429 and `Retry-After`;
   * `data` is {@link RequestLimitedData}. In JSON-RPC 2.0's range for
   * implementation-defined server errors (-32000 … -32099), away from the
   * codes MCP assigns (-32002, -32020 …, -32042).
   */
  RequestLimited: -32090,
} as const;

/** `data` of a {@link McpErrorCode.RequestLimited} error: which limit refused the request, and when to retry. */
export interface RequestLimitedData {
  readonly limit: "concurrent" | "rate";
  readonly scope: "caller" | "session";
  /** Seconds, as in the `Retry-After` header. */
  readonly retryAfter: number;
}

/** A request refused over a limit (HTTP 429; `message` names the limit). */
export function requestLimited(
  id: RequestId | null,
  message: string,
  data: RequestLimitedData,
): JsonRpcResponse {
  return failure(id, McpErrorCode.RequestLimited, message, { ...data });
}

/** The limit named by a {@link requestLimited} response; undefined for any other response. */
export function limitOf(response: JsonRpcResponse): RequestLimitedData | undefined {
  if (!("error" in response) || response.error.code !== McpErrorCode.RequestLimited) return undefined;
  const data = response.error.data as { [key: string]: unknown } | undefined;
  if (typeof data !== "object" || data === null) return undefined;
  const { limit, scope, retryAfter } = data;
  if (limit !== "concurrent" && limit !== "rate") return undefined;
  if (scope !== "caller" && scope !== "session") return undefined;
  return { limit, scope, retryAfter: typeof retryAfter === "number" ? retryAfter : 1 };
}

/**
 * Where a backend failure is answered as a JSON-RPC error. `tools/call` is not
 * among them: its failures are tool results with `isError: true` (MCP 2025-11-25
 * server/tools "Error Handling"), built in src/invoke.
 */
export type ErrorSite =
  /** resources/read of `uri`; `stateless` is the 2026-07-28 era, which has its own not-found code. */
  | { readonly kind: "resource"; readonly uri: string; readonly stateless: boolean }
  /** prompts/get (MCP 2025-11-25 server/prompts "Error Handling"). */
  | { readonly kind: "prompt" }
  /** completion/complete (MCP 2025-11-25 server/utilities/completion "Error Handling"). */
  | { readonly kind: "completion" };

/**
 * Resource not found (MCP server/resources "Error Handling"): -32002 with
 * sessions (2025-11-25 and earlier), -32602 Invalid params in 2026-07-28,
 * with the URI in `data` in both.
 */
export function resourceNotFound(uri: string, stateless: boolean): JsonRpcError {
  return new JsonRpcError(
    stateless ? ErrorCode.InvalidParams : McpErrorCode.ResourceNotFound,
    `Resource not found: ${uri}`,
    { uri },
  );
}

/**
 * The JSON-RPC error for a backend failure behind resources/read, prompts/get or
 * completion/complete (MCP 2025-11-25 server/resources, server/prompts and
 * server/utilities/completion, "Error Handling"). The code comes from the
 * `jsonRpc` column of the gRPC status table (src/invoke/status-map.ts), the one
 * place that maps gRPC codes, so INVALID_ARGUMENT and OUT_OF_RANGE are -32602
 * Invalid params and the rest -32603 Internal error, NOT_FOUND aside (below).
 * The message is the backend's status rendered as text, details included; no `data`.
 */
export function backendError(err: unknown, site: ErrorSite): JsonRpcError {
  const e = ConnectError.from(err);
  if (e.code === Code.NotFound) {
    switch (site.kind) {
      case "resource":
        // The table's -32002 is the session-era code; the 2026-07-28 era says -32602.
        // Both carry the URI, like a URI the catalog does not know.
        return resourceNotFound(site.uri, site.stateless);
      case "prompt":
      case "completion":
        // Deliberate: -32002 names a missing *resource*, and MCP defines no not-found
        // code for prompts or completions; the handler itself was found in the catalog.
        // NOT_FOUND from it stays an internal error, as before the table was used here.
        return new JsonRpcError(ErrorCode.InternalError, describeRpcError(e));
    }
  }
  return new JsonRpcError(statusMapping(e.code).jsonRpc, describeRpcError(e));
}

/**
 * The HTTP status of a 2026-07-28 response that carries a JSON-RPC error
 * (MCP 2026-07-28 basic/transports "Error Handling"). Only errors about the HTTP
 * message itself change the status; an error about the operation is an answer
 * like any other and travels with 200.
 */
export function statelessHttpStatus(code: number): number {
  switch (code) {
    // A method this revision does not define, as for an unknown path.
    case ErrorCode.MethodNotFound:
      return 404;
    // The request cannot be served as sent: malformed, headers disagreeing with the
    // body, a capability the client must declare, or a revision we do not speak.
    case ErrorCode.InvalidRequest:
    case McpErrorCode.HeaderMismatch:
    case McpErrorCode.MissingRequiredClientCapability:
    case McpErrorCode.UnsupportedProtocolVersion:
      return 400;
    // Over a limit per caller or per session: Too Many Requests (RFC 6585 §4), with Retry-After.
    case McpErrorCode.RequestLimited:
      return 429;
    // Deliberately 200: invalid params (unknown tool, resource not found, bad cursor),
    // internal and backend errors are results of a well-formed request.
    default:
      return 200;
  }
}
