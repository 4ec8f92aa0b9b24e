import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { TaskRecord } from "../../sessions/types.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import {
  declaresTasks,
  detailedTask,
  isTerminal,
  missingTasksExtension,
  ownerOf,
  taskNotFound,
} from "../tasks/index.js";

/**
 * The caller's task named by `params.taskId`. A request without the extension
 * is refused with -32021 whatever it names; a task that does not exist,
 * expired or belongs to another caller is -32602, alike (SEP-2663 "Error Handling").
 */
async function callersTask(
  { params, ex }: MethodCall,
  ctx: ServerContext,
  method: string,
): Promise<TaskRecord> {
  if (!declaresTasks(ex)) throw missingTasksExtension(method);
  const id = params.taskId;
  if (typeof id !== "string")
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.taskId must be a string");
  const record = await ctx.tasks.find(id, ownerOf(ex));
  if (!record) throw taskNotFound();
  return record;
}

/** SEP-2663 "Task Polling": the task as it is now (`DetailedTask`). */
export async function getTask(call: MethodCall, ctx: ServerContext): Promise<object> {
  const record = await callersTask(call, ctx, "tasks/get");
  const now = await ctx.tasks.kind(record.kind).observe(record, { ctx, ex: call.ex });
  return detailedTask(now);
}

/**
 * SEP-2663 "Task Update Requests": answers to outstanding input requests; an
 * empty acknowledgement. Keys not outstanding are ignored, and so is an
 * update of a task that no longer waits for input.
 */
export async function updateTask(call: MethodCall, ctx: ServerContext): Promise<object> {
  const record = await callersTask(call, ctx, "tasks/update");
  const responses = call.params.inputResponses;
  if (!isObjectOfObjects(responses)) {
    throw new JsonRpcError(ErrorCode.InvalidParams, "inputResponses must map each key to a result object");
  }
  if (!isTerminal(record.status)) {
    await ctx.tasks.kind(record.kind).update(record, responses, { ctx, ex: call.ex });
  }
  return {};
}

/**
 * SEP-2663 "Task Cancellation": an empty acknowledgement, the same for a task
 * that already ended (idempotent); the status is observed with tasks/get.
 */
export async function cancelTask(call: MethodCall, ctx: ServerContext): Promise<object> {
  const record = await callersTask(call, ctx, "tasks/cancel");
  if (!isTerminal(record.status)) await ctx.tasks.kind(record.kind).cancel(record, { ctx, ex: call.ex });
  return {};
}

function isObjectOfObjects(v: JsonValue | undefined): v is { [key: string]: JsonObject } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => typeof x === "object" && x !== null && !Array.isArray(x));
}
