import type { JsonObject } from "@bufbuild/protobuf";
import type { Bound } from "../../catalog/index.js";
import type { BackendHandle, CallContext } from "../../invoke/index.js";
import type { TaskRecord } from "../../sessions/types.js";
import type { CatalogView } from "../catalog-view.js";
import type { Exchange } from "../exchange.js";
import type { InputSettings } from "../input.js";
import type { RequestId } from "../jsonrpc.js";

// The types the tasks share. They refer to each other (a kind is handed the
// context, which holds the service, which finds the kinds), so they sit in one
// module that imports none of the tasks' modules.

/** The request a kind serves: the server's context and the caller's exchange (identity, signal). */
export interface TaskRequest {
  readonly ctx: TaskContext;
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

/**
 * The part of the server's context (`ServerContext` in server-context.ts,
 * which extends this) that tasks use: declared here, with the task service
 * and kinds it refers to, so that no module of the tasks imports the server's
 * context, which builds the task service.
 */
export interface TaskContext {
  /**
   * The catalog in use. It is replaced whole, never changed in place; a handler
   * reads it once per step, so a request in flight may see a newer one at its next step.
   */
  readonly catalog: CatalogView;
  /** How operations ask the client for input. */
  readonly input: InputSettings;
  /** MCP tasks (extension io.modelcontextprotocol/tasks): their records, changes and runs here. */
  readonly tasks: TaskService;
  /** The backend serving an RPC of the catalog in use. */
  backendOf(def: Bound): BackendHandle;
  /** Metadata and relays for one backend call (see call-context.ts). */
  callContext(
    backend: string,
    id: RequestId | undefined,
    params: JsonObject,
    ex: Exchange,
  ): Promise<CallContext>;
}

/** `TaskOptions` (service.ts) after defaults. */
export interface TaskSettings {
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  readonly syncWindowMs: number;
  readonly maxRunning: number;
}

/** Something running here that must stop when the server closes. */
export interface RunningTask {
  shutdown(): void;
}

/**
 * The tasks as the MCP core sees them: records in the shared store, their
 * changes on the bus, this replica's running count, and the kinds.
 */
export interface TaskService {
  readonly settings: TaskSettings;
  readonly replica: string;
  /** A new task id: 128 random bits (SEP-2663 "Task ID unguessability"). */
  newId(): string;
  /** Takes a slot for a run; false at `maxRunning`. */
  acquire(): boolean;
  /** Gives a slot back. */
  release(): void;
  /** Slots taken. */
  running(): number;
  /** Stores a new task, readable by every replica once this resolves (SEP-2663 "Task Creation"). */
  create(record: TaskRecord): Promise<void>;
  /** The task when it exists and belongs to `owner`; undefined otherwise, alike. */
  find(id: string, owner: string): Promise<TaskRecord | undefined>;
  /** The task, whoever owns it. */
  get(id: string): Promise<TaskRecord | undefined>;
  /**
   * Changes a task by compare-and-set, reading it again after a lost race:
   * `change` returns the next record, or undefined to leave it. Tells every
   * replica watching. Returns what was written, or undefined.
   */
  write(id: string, change: (current: TaskRecord) => TaskRecord | undefined): Promise<TaskRecord | undefined>;
  /** Calls `onChange` each time the task is written, wherever; resolves to the function that stops it. */
  watch(id: string, onChange: () => void): Promise<() => void>;
  /** The kind named on a record. */
  kind(name: string): TaskKind;
  /** Keeps a run until it ends, so that {@link close} can stop it; this replica's lease is renewed meanwhile. */
  track(run: RunningTask): () => void;
  /** Whether the replica running a task is alive (its lease holds); always, without a registry. */
  alive(replica: string): Promise<boolean>;
  /** Stops the runs of this replica (the server is closing). */
  close(): void;
}
