import type { JsonObject } from "@bufbuild/protobuf";
import { LOG_LEVELS, type LogLevel } from "../invoke/index.js";
import {
  classify,
  decodeHeaderValue,
  ErrorCode,
  failure,
  type Incoming,
  isStatelessVersion,
  isSupportedVersion,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpErrorCode,
  nameParam,
  type RequestId,
  STATELESS_VERSIONS,
} from "../mcp/index.js";

/** The parts of a POST the router reads: its headers (lower-case names) and its parsed body. */
export interface PostInput {
  header(name: string): string | undefined;
  readonly body: unknown;
  /** Whether a method exists in 2026-07-28 (unknown ones are 404 there). */
  knowsStateless(method: string): boolean;
}

/** What a POST to the MCP endpoint is, decided before any state is touched. */
export type PostRoute =
  /** Answered at once with this status and JSON-RPC message. */
  | { readonly kind: "reject"; readonly status: number; readonly response: JsonRpcResponse }
  /** A notification or response that needs nothing but `202 Accepted`. */
  | { readonly kind: "accepted" }
  /** A message of an existing session (2025-03-26 … 2025-11-25). */
  | {
      readonly kind: "session";
      readonly sessionId: string;
      readonly headerVersion: string | undefined;
      readonly message: Exclude<Incoming, { kind: "invalid" }>;
    }
  /** `initialize` without a session: creates one (MCP 2025-11-25 basic/lifecycle). */
  | { readonly kind: "initialize"; readonly request: JsonRpcRequest & { id: RequestId } }
  /** A self-contained 2026-07-28 request, its `_meta` checked against the headers. */
  | {
      readonly kind: "stateless";
      readonly request: JsonRpcRequest & { id: RequestId };
      readonly clientCapabilities: JsonObject;
      readonly logLevel: LogLevel | undefined;
    };

const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";
/**
 * Routes a POST to the MCP endpoint by protocol era (MCP 2025-11-25 and
 * 2026-07-28 basic/transports "Streamable HTTP"). Pure: no I/O, never throws.
 */
export function routePost(input: PostInput): PostRoute {
  const headerVersion = input.header("mcp-protocol-version");
  const sessionId = input.header("mcp-session-id");
  const msg = classify(input.body);
  if (headerVersion !== undefined && !isSupportedVersion(headerVersion) && sessionId === undefined) {
    return reject(400, unsupportedVersion(msg.kind === "request" ? msg.message.id : null, headerVersion));
  }
  if (Array.isArray(input.body)) {
    return reject(400, failure(null, ErrorCode.InvalidRequest, "JSON-RPC batches are not supported"));
  }
  if (msg.kind === "invalid") {
    return reject(400, failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`));
  }
  if (sessionId !== undefined) return { kind: "session", sessionId, headerVersion, message: msg };
  const meta = (msg.kind === "response" ? undefined : msg.message.params?._meta) as JsonObject | undefined;
  if (isStatelessVersion(headerVersion) || (meta && typeof meta === "object" && META_VERSION in meta)) {
    return routeStateless(msg, input, headerVersion);
  }
  if (msg.kind === "request" && msg.message.method === "initialize") {
    return { kind: "initialize", request: msg.message };
  }
  if (msg.kind !== "request") return { kind: "accepted" };
  return reject(
    400,
    failure(
      msg.message.id,
      ErrorCode.InvalidRequest,
      "Bad Request: send initialize first (Mcp-Session-Id missing), or use protocol version 2026-07-28 with _meta",
    ),
  );
}

/**
 * A 2026-07-28 request (basic/transports "Streamable HTTP"; basic/lifecycle):
 * `_meta` must carry the protocol version and client capabilities, the
 * MCP-Protocol-Version, Mcp-Method and Mcp-Name headers must agree with the
 * body, and unknown methods are 404.
 */
function routeStateless(
  msg: Exclude<Incoming, { kind: "invalid" }>,
  input: PostInput,
  headerVersion: string | undefined,
): PostRoute {
  if (msg.kind === "response") return { kind: "accepted" };
  const request = msg.message;
  const id = msg.kind === "request" ? msg.message.id : null;
  const params = (request.params ?? {}) as JsonObject;
  const meta = params._meta;
  const bad = (status: number, code: number, text: string) => reject(status, failure(id, code, text));
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) {
    return bad(
      400,
      ErrorCode.InvalidParams,
      "params._meta is required (protocol version and client capabilities)",
    );
  }
  const version = meta[META_VERSION];
  const capabilities = meta[META_CAPABILITIES];
  if (typeof version !== "string")
    return bad(400, ErrorCode.InvalidParams, `_meta.${META_VERSION} is required`);
  if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
    return bad(400, ErrorCode.InvalidParams, `_meta.${META_CAPABILITIES} must be an object`);
  }
  if (headerVersion === undefined) {
    return bad(400, McpErrorCode.HeaderMismatch, "The MCP-Protocol-Version header is required");
  }
  if (headerVersion !== version) {
    return bad(
      400,
      McpErrorCode.HeaderMismatch,
      `MCP-Protocol-Version ${headerVersion} differs from _meta ${version}`,
    );
  }
  if (!isStatelessVersion(version)) return reject(400, unsupportedVersion(id, version));
  const methodHeader = input.header("mcp-method")?.trim();
  if (methodHeader !== request.method) {
    const text =
      methodHeader === undefined
        ? "The Mcp-Method header is required"
        : `Mcp-Method ${methodHeader} differs from the body's ${request.method}`;
    return bad(400, McpErrorCode.HeaderMismatch, text);
  }
  const param = nameParam(request.method);
  const name = param === undefined ? undefined : params[param];
  if (typeof name === "string") {
    const raw = input.header("mcp-name");
    const nameHeader = raw === undefined ? undefined : decodeHeaderValue(raw);
    if (nameHeader !== name) {
      const text =
        nameHeader === undefined
          ? "The Mcp-Name header is required"
          : `Mcp-Name ${nameHeader} differs from the body`;
      return bad(400, McpErrorCode.HeaderMismatch, text);
    }
  }
  if (msg.kind === "notification") return { kind: "accepted" };
  if (!input.knowsStateless(request.method)) {
    return bad(404, ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
  }
  const level = meta[META_LOG_LEVEL];
  return {
    kind: "stateless",
    request: msg.message,
    clientCapabilities: capabilities,
    logLevel: (LOG_LEVELS as readonly string[]).includes(level as string) ? (level as LogLevel) : undefined,
  };
}

/** MCP 2026-07-28 basic/lifecycle "Version Negotiation": the versions this server supports. */
export function unsupportedVersion(id: RequestId | null, requested: string): JsonRpcResponse {
  return failure(id, McpErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${requested}`, {
    supported: [...STATELESS_VERSIONS],
    requested,
  });
}

function reject(status: number, response: JsonRpcResponse): PostRoute {
  return { kind: "reject", status, response };
}
