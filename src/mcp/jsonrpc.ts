import type { JsonValue } from "@bufbuild/protobuf";

/** A JSON-RPC request id (JSON-RPC 2.0 §4; MCP forbids null ids). */
export type RequestId = string | number;

/** A JSON-RPC 2.0 request or notification as received. */
export interface JsonRpcRequest {
  readonly jsonrpc: "2.0";
  readonly id?: RequestId;
  readonly method: string;
  readonly params?: { [k: string]: JsonValue | undefined };
}

/** A JSON-RPC 2.0 response (success or error). */
export type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: RequestId; result: unknown }
  | { jsonrpc: "2.0"; id: RequestId | null; error: JsonRpcErrorObject };

/** The error member of a JSON-RPC response (JSON-RPC 2.0 §5.1). */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** Standard JSON-RPC 2.0 error codes (§5.1). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

/** An error meant to be answered as a JSON-RPC error object. */
export class JsonRpcError extends Error {
  override readonly name = "JsonRpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** One parsed incoming message: a request/notification, a response from the client, or garbage. */
export type Incoming =
  | { kind: "request"; message: JsonRpcRequest & { id: RequestId } }
  | { kind: "notification"; message: JsonRpcRequest }
  | { kind: "response"; id: RequestId; result?: JsonValue; error?: JsonValue }
  | { kind: "invalid"; id: RequestId | null; reason: string };

/** Classifies one JSON value as a JSON-RPC message (JSON-RPC 2.0 §4, §5). */
export function classify(value: unknown): Incoming {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", id: null, reason: "a JSON-RPC message must be an object" };
  }
  const v = value as { [k: string]: unknown };
  const id = v.id;
  const validId = typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
  if (v.jsonrpc !== "2.0")
    return { kind: "invalid", id: validId ? id : null, reason: 'jsonrpc must be "2.0"' };
  if (typeof v.method === "string") {
    if (
      v.params !== undefined &&
      (typeof v.params !== "object" || v.params === null || Array.isArray(v.params))
    ) {
      return { kind: "invalid", id: validId ? id : null, reason: "params must be an object" };
    }
    if (id === undefined) return { kind: "notification", message: v as unknown as JsonRpcRequest };
    if (!validId) return { kind: "invalid", id: null, reason: "id must be a string or a number" };
    return { kind: "request", message: v as unknown as JsonRpcRequest & { id: RequestId } };
  }
  if (("result" in v || "error" in v) && validId) {
    return { kind: "response", id, result: v.result as JsonValue, error: v.error as JsonValue };
  }
  return { kind: "invalid", id: validId ? id : null, reason: "not a request, notification or response" };
}

/** Builds a success response. */
export function success(id: RequestId, result: unknown): JsonRpcResponse {
  return { jsonrpc: "2.0", id, result };
}

/** Builds an error response. */
export function failure(
  id: RequestId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: "2.0", id, error };
}
