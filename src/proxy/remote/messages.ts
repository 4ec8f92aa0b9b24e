import type { JsonRpcMessage } from "../types.js";

/** A JSON-RPC request or response id (JSON-RPC 2.0 §4). */
export type RequestId = string | number;

/** What one JSON-RPC message is, told apart by the fields it has (JSON-RPC 2.0 §4, §5). */
export type MessageShape =
  | { readonly kind: "request"; readonly id: RequestId; readonly method: string }
  | { readonly kind: "notification"; readonly method: string }
  | { readonly kind: "response"; readonly id: RequestId | null };

/** The shape of a message, for routing; a message without method or id counts as a notification-less response. */
export function shapeOf(message: JsonRpcMessage): MessageShape {
  const { id, method } = message;
  const hasId = typeof id === "string" || typeof id === "number";
  if (typeof method === "string") {
    return hasId ? { kind: "request", id, method } : { kind: "notification", method };
  }
  return { kind: "response", id: hasId ? id : null };
}

/** Whether a parsed value is one JSON-RPC 2.0 message (an object with `jsonrpc: "2.0"`). */
export function isMessage(value: unknown): value is JsonRpcMessage {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (value as { jsonrpc?: unknown }).jsonrpc === "2.0"
  );
}

/**
 * The JSON-RPC messages in a body or SSE `data` field: one message or a
 * batch (2025-03-26 allowed servers to send batches). Returns an error
 * string, never throws, when the text is not JSON-RPC.
 */
export function parseMessages(text: string): { messages: JsonRpcMessage[] } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "the server sent invalid JSON" };
  }
  const items = Array.isArray(value) ? value : [value];
  const messages = items.filter(isMessage);
  if (messages.length !== items.length) return { error: "the server sent something that is not JSON-RPC" };
  return { messages };
}

/** Whether `message` is the response to the request with `id`. */
export function isResponseTo(message: JsonRpcMessage, id: RequestId): boolean {
  const shape = shapeOf(message);
  return shape.kind === "response" && shape.id === id;
}

/** The `params` object of a request or notification (empty when absent or not an object). */
export function paramsOf(message: JsonRpcMessage): { readonly [key: string]: unknown } {
  const p = message.params;
  return typeof p === "object" && p !== null && !Array.isArray(p) ? (p as { [key: string]: unknown }) : {};
}

/**
 * JSON-RPC error code for a request whose answer can no longer arrive
 * (the connection failed and could not be resumed). The implementation-defined
 * server-error range (JSON-RPC 2.0 §5.1); the MCP SDKs use the same value.
 */
export const CONNECTION_CLOSED = -32000;

/**
 * The error response the host gets for a request whose answer was lost, so
 * it never waits forever for an id the server will not answer.
 */
export function connectionLost(id: RequestId, reason: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code: CONNECTION_CLOSED, message: `Connection lost: ${reason}` } };
}
