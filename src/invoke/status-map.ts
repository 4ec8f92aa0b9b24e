import { Code } from "@connectrpc/connect";

/** How one gRPC status code surfaces through MCP and HTTP. */
export interface StatusMapping {
  /** Canonical gRPC name, e.g. `NOT_FOUND`. */
  readonly name: string;
  /** HTTP status for places where an error is answered at the HTTP layer (gRPC's own HTTP mapping). */
  readonly http: number;
  /**
   * JSON-RPC error code when an RPC failure must be a protocol error rather than a
   * tool result (resources/read, prompts/get, completion/complete; applied by
   * `backendError` in src/mcp/errors.ts). Tool calls always use `isError` results.
   */
  readonly jsonRpc: number;
  /** Whether a client may reasonably retry the same call unchanged. */
  readonly retryable: boolean;
  /** A short human phrase prefixed to the backend's message in tool results. */
  readonly phrase: string;
}

/** JSON-RPC 2.0 error codes used by the mapping (JSON-RPC 2.0 §5.1; MCP resources "Error Handling"). */
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;
const RESOURCE_NOT_FOUND = -32002;

/**
 * The one table mapping every gRPC status code (grpc/doc/statuscodes.md) to MCP.
 * Every backend failure of `tools/call` is a tool execution error (`isError: true`,
 * MCP 2025-11-25 server/tools "Error Handling") so the model can see and react to it;
 * the columns below serve the other surfaces and the result text.
 */
export const STATUS_TABLE: { readonly [C in Code]: StatusMapping } = {
  // The client (or the gateway on its behalf) gave up; not the backend's fault.
  [Code.Canceled]: row("CANCELLED", 499, INTERNAL_ERROR, false, "the call was cancelled"),
  [Code.Unknown]: row("UNKNOWN", 500, INTERNAL_ERROR, false, "the backend failed"),
  // Bad input is the caller's to fix: surfaced as invalid params (like OUT_OF_RANGE).
  [Code.InvalidArgument]: row("INVALID_ARGUMENT", 400, INVALID_PARAMS, false, "invalid argument"),
  [Code.DeadlineExceeded]: row(
    "DEADLINE_EXCEEDED",
    504,
    INTERNAL_ERROR,
    true,
    "the backend did not answer in time",
  ),
  // For resources this is MCP's own "resource not found" of the session eras; 2026-07-28
  // uses -32602 for it, and prompts/completions keep -32603 (see src/mcp/errors.ts).
  [Code.NotFound]: row("NOT_FOUND", 404, RESOURCE_NOT_FOUND, false, "not found"),
  [Code.AlreadyExists]: row("ALREADY_EXISTS", 409, INTERNAL_ERROR, false, "already exists"),
  [Code.PermissionDenied]: row("PERMISSION_DENIED", 403, INTERNAL_ERROR, false, "permission denied"),
  [Code.ResourceExhausted]: row("RESOURCE_EXHAUSTED", 429, INTERNAL_ERROR, true, "resource exhausted"),
  [Code.FailedPrecondition]: row("FAILED_PRECONDITION", 400, INTERNAL_ERROR, false, "failed precondition"),
  [Code.Aborted]: row("ABORTED", 409, INTERNAL_ERROR, true, "aborted"),
  // A value past the valid range is bad input too, e.g. a page beyond the end.
  [Code.OutOfRange]: row("OUT_OF_RANGE", 400, INVALID_PARAMS, false, "out of range"),
  [Code.Unimplemented]: row("UNIMPLEMENTED", 501, INTERNAL_ERROR, false, "not implemented by the backend"),
  [Code.Internal]: row("INTERNAL", 500, INTERNAL_ERROR, false, "the backend failed"),
  [Code.Unavailable]: row("UNAVAILABLE", 503, INTERNAL_ERROR, true, "the backend is unavailable"),
  [Code.DataLoss]: row("DATA_LOSS", 500, INTERNAL_ERROR, false, "data loss"),
  // Backend-side auth failures are reported, not turned into an HTTP 401: the
  // caller's token was already accepted by the gateway.
  [Code.Unauthenticated]: row(
    "UNAUTHENTICATED",
    401,
    INTERNAL_ERROR,
    false,
    "the backend rejected the credentials",
  ),
};

function row(name: string, http: number, jsonRpc: number, retryable: boolean, phrase: string): StatusMapping {
  return { name, http, jsonRpc, retryable, phrase };
}

/** Looks up the mapping of a gRPC code. */
export function statusMapping(code: Code): StatusMapping {
  return STATUS_TABLE[code];
}
