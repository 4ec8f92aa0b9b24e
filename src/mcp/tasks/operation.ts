import type { JsonObject } from "@bufbuild/protobuf";
import { cancelOperation, getOperation } from "../../invoke/index.js";
import type { TaskRecord } from "../../sessions/types.js";
import type { TaskRequest } from "./types.js";
import { changed, isTerminal } from "./wire.js";

/** Where a task's long-running operation (AIP-151) is found again: its name and the tool that started it. */
export interface OperationSource {
  readonly operation: string;
  readonly tool: string;
}

/** The operation a task waits on, when it waits on one (`record.source`, written by run.ts). */
export function operationSource(record: TaskRecord): OperationSource | undefined {
  const { operation, tool } = record.source ?? {};
  return typeof operation === "string" && typeof tool === "string" ? { operation, tool } : undefined;
}

/**
 * A task whose replica stopped while its operation runs on at the backend:
 * this replica asks `google.longrunning.Operations/GetOperation` (at most once
 * per poll interval; a fresher record is answered as stored) and writes what it
 * learns — progress as `statusMessage`, the end as `completed` with the result
 * a synchronous call would give (an operation error is a tool error, `isError`).
 * Undefined when the tool is no longer served or the backend cannot be asked.
 */
export async function pollOperation(
  record: TaskRecord,
  source: OperationSource,
  { ctx, ex }: TaskRequest,
): Promise<TaskRecord | undefined> {
  if (Date.now() - record.updatedAt < record.pollIntervalMs) return record;
  const tool = ctx.catalog.toolsByName.get(source.tool);
  if (!tool?.operation) return undefined;
  try {
    const backend = ctx.backendOf(tool);
    const { headers } = await ctx.callContext(tool.backend, undefined, {}, ex);
    const state = await getOperation(tool, source.operation, backend, headers ? { headers } : {});
    const patch: Partial<TaskRecord> = state.done
      ? { status: "completed", result: state.result as unknown as JsonObject }
      : state.metadata
        ? { statusMessage: JSON.stringify(state.metadata) }
        : {};
    const written = await ctx.tasks.write(record.id, (current) =>
      isTerminal(current.status) ? undefined : changed(current, patch, ["inputRequests", "inputResponses"]),
    );
    return written ?? (await ctx.tasks.get(record.id));
  } catch {
    return undefined;
  }
}

/** Asks the backend to stop the operation a task waits on (best effort, AIP-151). */
export async function cancelSourceOperation(
  source: OperationSource,
  { ctx, ex }: TaskRequest,
): Promise<void> {
  const tool = ctx.catalog.toolsByName.get(source.tool);
  if (!tool?.operation) return;
  try {
    const { headers } = await ctx.callContext(tool.backend, undefined, {}, ex);
    await cancelOperation(source.operation, ctx.backendOf(tool), headers);
  } catch {
    // Cooperative (SEP-2663 "Task Cancellation"): the task is cancelled whatever the backend says.
  }
}
