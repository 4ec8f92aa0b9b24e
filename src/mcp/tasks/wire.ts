import type { JsonObject } from "@bufbuild/protobuf";
import type { TaskRecord, TaskStatus } from "../../sessions/types.js";
import { McpErrorCode } from "../errors.js";
import type { Exchange } from "../exchange.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";

/** The extension's identifier (SEP-2663 "Extension Identifier"). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** The optional fields a record may drop on a write. */
export type DroppableField = "statusMessage" | "inputRequests" | "inputResponses" | "result" | "error";

/** Whether a status is final: completed, failed or cancelled (SEP-2663 "Task Status"). */
export function isTerminal(status: TaskStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/**
 * Whether the request declares the tasks extension in its client capabilities
 * (SEP-2663 "Capability Negotiation": per request, in `_meta`). Only 2026-07-28
 * requests can: the extension is not defined for the session eras.
 */
export function declaresTasks(ex: Exchange): boolean {
  if (ex.era !== "stateless") return false;
  const extensions = ex.clientCapabilities.extensions;
  if (typeof extensions !== "object" || extensions === null || Array.isArray(extensions)) return false;
  const declared = extensions[TASKS_EXTENSION];
  return typeof declared === "object" && declared !== null && !Array.isArray(declared);
}

/** -32021 naming the tasks extension (SEP-2663 "Capability Negotiation", "Error Handling"). */
export function missingTasksExtension(what: string): JsonRpcError {
  return new JsonRpcError(
    McpErrorCode.MissingRequiredClientCapability,
    `Missing required client capability: ${what} needs the extension ${TASKS_EXTENSION}`,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

/**
 * -32602 for a task that does not exist, expired, or belongs to another
 * caller: the three are answered alike, so a task's existence never leaks
 * (SEP-2663 "Error Handling", "Security Implications").
 */
export function taskNotFound(): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
}

/**
 * Who a task belongs to: the token's subject with auth. Without auth there is
 * no caller to bind it to (2026-07-28 has no session, and a client address is
 * shared behind NAT and changes between requests), so every task is
 * `anonymous` and its unguessable id is the only capability to it.
 */
export function ownerOf(ex: Exchange): string {
  return ex.identity ? `sub:${ex.identity.subject}` : "anonymous";
}

/** A record's {@link TaskRecord} copy with `patch` applied and the `drop` fields removed. */
export function changed(
  record: TaskRecord,
  patch: Partial<TaskRecord>,
  drop: readonly DroppableField[] = [],
): TaskRecord {
  const next: { -readonly [K in keyof TaskRecord]?: TaskRecord[K] } = { ...record, ...patch };
  for (const field of drop) delete next[field];
  return next as TaskRecord;
}

/** The `Task` of SEP-2663 ("Tasks"): ISO 8601 times, integer milliseconds. */
function task(record: TaskRecord): JsonObject {
  const out: JsonObject = { taskId: record.id, status: record.status };
  if (record.statusMessage !== undefined) out.statusMessage = record.statusMessage;
  out.createdAt = new Date(record.createdAt).toISOString();
  out.lastUpdatedAt = new Date(record.updatedAt).toISOString();
  out.ttlMs = Math.round(record.ttlMs);
  out.pollIntervalMs = Math.round(record.pollIntervalMs);
  return out;
}

/**
 * `CreateTaskResult` (SEP-2663 "Task Creation"): the task itself, flat, with
 * `resultType: "task"`; never a result, an error or input requests.
 */
export function createTaskResult(record: TaskRecord): JsonObject {
  return { resultType: "task", ...task(record) };
}

/**
 * `DetailedTask` (SEP-2663 "Tasks"), as tasks/get answers it and
 * notifications/tasks carries it: the task with what its status inlines —
 * the outstanding input requests, the result, or the JSON-RPC error.
 */
export function detailedTask(record: TaskRecord): JsonObject {
  const out = task(record);
  switch (record.status) {
    case "input_required":
      out.inputRequests = record.inputRequests ?? {};
      break;
    case "completed":
      out.result = record.result ?? {};
      break;
    case "failed":
      out.error = record.error ?? { code: ErrorCode.InternalError, message: "Internal error" };
      break;
    case "working":
    case "cancelled":
      break;
  }
  return out;
}

/** A thrown error as the JSON-RPC error a failed task carries (SEP-2663 "Task Execution Errors"). */
export function errorObject(err: unknown): JsonObject {
  if (err instanceof JsonRpcError) {
    const out: JsonObject = { code: err.code, message: err.message };
    if (err.data !== undefined) out.data = err.data as JsonObject;
    return out;
  }
  return { code: ErrorCode.InternalError, message: "Internal error" };
}
