import type { JsonObject } from "@bufbuild/protobuf";
import type { TaskRecord } from "../../sessions/types.js";
import type { Exchange } from "../exchange.js";
import type { ServerContext } from "../server-context.js";

/** The request a kind serves: the server's context and the caller's exchange (identity, signal). */
export interface TaskRequest {
  readonly ctx: ServerContext;
  readonly ex: Exchange;
}

/**
 * What drives a task's state, found again on any replica by the record's
 * `kind`. The handlers of tasks/get, tasks/update and tasks/cancel check the
 * caller (extension, owner, existence) and then hand the record to its kind.
 *
 * - `local` (local.ts, run.ts): the replica that created the task runs the
 *   RPC in the background and writes every change into the shared store;
 *   `observe` returns the record as stored, `update` and `cancel` write into
 *   it and the run, wherever it is, hears of it on the task's bus channel.
 * - An operation-backed kind (google.longrunning, AIP-151) would keep the
 *   operation's name and backend in `record.source`; `observe` calls
 *   `GetOperation` (or keeps the stored state within `pollIntervalMs`),
 *   translates `done`/`response`/`error`/`metadata` into status, result, error
 *   and statusMessage and writes them back; `cancel` calls `CancelOperation`.
 *   It plugs in with `createTaskService(options, [localTasks, operationTasks])`
 *   in server-context.ts (or `McpServerOptions.tasks.kinds`), and its tasks are
 *   created in handlers/tools.ts where `runAsTask` creates local ones: call
 *   the RPC, `ctx.tasks.create({ kind: "operation", source, … })`, answer
 *   `createTaskResult(record)`.
 */
export interface TaskKind {
  /** Stored in `TaskRecord.kind`. */
  readonly name: string;
  /** The record as tasks/get shows it now (read through to the work where it lives elsewhere). */
  observe(record: TaskRecord, req: TaskRequest): Promise<TaskRecord>;
  /**
   * tasks/update: answers to outstanding input requests, by key; keys not
   * outstanding are ignored (SEP-2663 "Task Update Requests"). Eventually
   * consistent: the task may show them only later.
   */
  update(
    record: TaskRecord,
    responses: { readonly [key: string]: JsonObject },
    req: TaskRequest,
  ): Promise<void>;
  /** tasks/cancel of a task not yet finished: asks the work to stop (cooperative, eventually consistent). */
  cancel(record: TaskRecord, req: TaskRequest): Promise<void>;
}
