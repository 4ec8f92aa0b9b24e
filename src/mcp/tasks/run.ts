import type { JsonObject } from "@bufbuild/protobuf";
import {
  type CallContext,
  type CallToolResult,
  type InputRequest,
  type Outcome,
  type ProgressUpdate,
  toolErrorResult,
} from "../../invoke/index.js";
import type { TaskRecord } from "../../sessions/types.js";
import type { Exchange } from "../exchange.js";
import { admissible, inputRequiredResult } from "../input.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { RunningTask, TaskContext, TaskService } from "./types.js";
import { changed, createTaskResult, errorObject, isTerminal, ownerOf } from "./wire.js";

/** A tool call that may become a task, as handlers/tools.ts hands it over. */
export interface TaskCall {
  readonly ctx: TaskContext;
  readonly ex: Exchange;
  /** Names the operation, so a `requestState` sealed for it cannot be replayed on another. */
  readonly binding: string;
  /** Metadata of every backend call (identity, request id, trace); its signal and relays are replaced. */
  readonly base: CallContext;
  /** Answers a retried request carried (MRTR, before any task exists). */
  readonly input: CallContext["input"];
  /** Calls the RPC: the same translation as a synchronous tools/call. */
  readonly call: (ctx: CallContext) => Promise<Outcome<CallToolResult>>;
  /** The tool's name, kept with a long-running operation's name so any replica can poll it. */
  readonly tool?: string;
}

/** The longest `statusMessage` kept from a progress message. */
const MAX_STATUS_MESSAGE = 1_000;
/** Progress is written to the task at most this often. */
const PROGRESS_EVERY_MS = 250;
/** Attempts at a write the run cannot do without (a status, the result) while the store fails. */
const PERSIST_ATTEMPTS = 5;

/**
 * Runs a tool call that may become a task (SEP-2663): the RPC starts at once,
 * detached from the HTTP request. If it settles within the sync window it is
 * answered directly — a result, or an `input_required` result the client
 * retries (MRTR before any task, as SEP-2663 "Task Creation" recommends).
 * Otherwise the task is stored (every replica can read it before the answer
 * goes out), the client gets `CreateTaskResult`, and the run goes on here:
 * progress becomes `statusMessage`, a request for input becomes
 * `input_required` with `inputRequests` answered by tasks/update, and the end
 * becomes `completed` with the result exactly as tools/call would have
 * answered it (tool errors included, `isError`), or `failed` with the JSON-RPC
 * error the call raised. Past `maxRunning` runs here, the call is refused with
 * a tool error, before anything runs.
 */
export function runAsTask(req: TaskCall): Promise<object> {
  const tasks = req.ctx.tasks;
  if (!tasks.acquire()) return Promise.resolve(busy(tasks.settings.maxRunning));
  return new LocalRun(req).begin();
}

/** The outstanding input round of a run: task keys (unique over the task's life) to the backend's keys. */
interface Waiting {
  readonly keys: ReadonlyMap<string, string>;
  readonly resolve: (answers: { [key: string]: JsonObject } | undefined) => void;
}

/** One call run in the background for its task, on the replica that created it. */
class LocalRun implements RunningTask {
  private readonly tasks: TaskService;
  private readonly abort = new AbortController();
  private readonly id: string;
  private readonly callContext: CallContext;
  private createdAt = 0;
  private created = false;
  private stopped = false;
  private released = false;
  private statusMessage: string | undefined;
  private waiting: Waiting | undefined;
  private readonly usedKeys = new Set<string>();
  private checking = false;
  private checkAgain = false;
  private unwatch: (() => void) | undefined;
  private untrack: (() => void) | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private lastProgressWrite = 0;
  /** The long-running operation (AIP-151) the call started, while it runs. */
  private operation: string | undefined;
  /** The server is closing and leaves the operation to another replica. */
  private handingOver = false;

  constructor(private readonly req: TaskCall) {
    this.tasks = req.ctx.tasks;
    this.id = this.tasks.newId();
    const { signal: _signal, onProgress: _progress, onLog: _log, ...metadata } = req.base;
    this.callContext = {
      ...metadata,
      signal: this.abort.signal,
      onProgress: (p) => this.progress(p),
      // Logs reach the client only while it waits for a direct answer; a task has no stream for them.
      onLog: (level, logger, data) => {
        if (!this.created) req.base.onLog?.(level, logger, data);
      },
      onOperation: (name) => this.operationStarted(name),
      keepOperation: () => this.handingOver,
    };
  }

  /** Where the operation can be found again: any replica polls it should this one stop. */
  private get source(): JsonObject | undefined {
    return this.operation && this.req.tool ? { operation: this.operation, tool: this.req.tool } : undefined;
  }

  private operationStarted(name: string): void {
    this.operation = name;
    const source = this.source;
    if (!this.created || !source) return;
    void this.tasks
      .write(this.id, (current) => (isTerminal(current.status) ? undefined : { ...current, source }))
      .catch(() => undefined);
  }

  /** Starts the call; answers directly, or once the task is stored. */
  async begin(): Promise<object> {
    const { ex, ctx } = this.req;
    const leave = () => this.abort.abort(ex.signal.reason);
    ex.signal.addEventListener("abort", leave, { once: true });
    const first = this.req.call(this.context(this.req.input));
    let early: Settled<Outcome<CallToolResult>> | typeof PENDING;
    try {
      early = await settledWithin(first, this.tasks.settings.syncWindowMs);
    } finally {
      ex.signal.removeEventListener("abort", leave);
    }
    if (early !== PENDING || ex.signal.aborted) {
      this.stop();
      if (early === PENDING) {
        void first.catch(() => undefined);
        throw new JsonRpcError(ErrorCode.InternalError, "The client went away");
      }
      if ("error" in early) throw early.error;
      const out = early.value;
      if ("done" in out) return out.done;
      return inputRequiredResult(ctx.input, this.req.binding, out.input, ex.clientCapabilities);
    }
    const now = Date.now();
    const { ttlMs, pollIntervalMs } = this.tasks.settings;
    const record: TaskRecord = {
      id: this.id,
      owner: ownerOf(ex),
      kind: "local",
      status: "working",
      ...(this.statusMessage !== undefined ? { statusMessage: this.statusMessage } : {}),
      createdAt: now,
      updatedAt: now,
      ttlMs,
      pollIntervalMs,
      replica: this.tasks.replica,
      ...(this.source ? { source: this.source } : {}),
      version: 0,
    };
    try {
      // Watch first: a change made right after the creation is not missed.
      this.unwatch = await this.tasks.watch(this.id, () => void this.check());
      await this.tasks.create(record);
    } catch (err) {
      this.stop();
      void first.catch(() => undefined);
      throw err;
    }
    this.createdAt = now;
    this.created = true;
    this.untrack = this.tasks.track(this);
    // A bus message may be lost (Redis pub/sub is at most once): read the record again now and then.
    this.recheck = setInterval(() => void this.check(), pollIntervalMs);
    this.recheck.unref();
    void this.drive(first);
    return createTaskResult(record);
  }

  /**
   * The server is closing: the task fails, since nothing will finish it — unless it waits on a
   * long-running operation, which runs on at the backend: another replica then polls it.
   */
  shutdown(): void {
    if (this.stopped) return;
    if (this.source) {
      this.handingOver = true;
      this.stop();
      return;
    }
    this.stop();
    const error = { code: ErrorCode.InternalError, message: "The gateway stopped before the task finished" };
    void this.tasks
      .write(this.id, (current) =>
        isTerminal(current.status)
          ? undefined
          : changed(current, { status: "failed", error, statusMessage: error.message }, [
              "inputRequests",
              "inputResponses",
              "result",
            ]),
      )
      .catch(() => undefined);
  }

  /** Runs the call to its end, round after round of input. */
  private async drive(first: Promise<Outcome<CallToolResult>>): Promise<void> {
    const maxRounds = this.req.ctx.input.maxRounds;
    let outcome = first;
    for (let round = 0; ; round++) {
      let out: Outcome<CallToolResult>;
      try {
        out = await outcome;
      } catch (err) {
        return this.settle("failed", err);
      }
      if (this.stopped) return;
      if ("done" in out) return this.settle("completed", out.done);
      if (round >= maxRounds) {
        const why = `the backend asked for input more than ${maxRounds} times`;
        return this.settle("failed", new JsonRpcError(ErrorCode.InternalError, why));
      }
      let requests: { [key: string]: InputRequest };
      try {
        requests = admissible(out.input, this.req.ex.clientCapabilities);
      } catch (err) {
        return this.settle("failed", err);
      }
      const answers = await this.ask(requests);
      if (!answers) return;
      outcome = this.req.call(this.context({ responses: answers, state: out.input.state }));
    }
  }

  /** Makes the task `input_required` and waits for every answer; undefined once the task ended. */
  private async ask(requests: {
    [key: string]: InputRequest;
  }): Promise<{ [key: string]: JsonObject } | undefined> {
    const keys = new Map<string, string>();
    const wire: JsonObject = {};
    for (const [key, r] of Object.entries(requests)) {
      const own = this.mint(key);
      keys.set(own, key);
      wire[own] = { method: r.method, params: r.params };
    }
    const written = await this.persist((current) =>
      current.status === "working"
        ? changed(current, { status: "input_required", inputRequests: wire }, ["inputResponses"])
        : undefined,
    );
    if (!written) {
      this.stop();
      return undefined;
    }
    return new Promise((resolve) => {
      this.waiting = { keys, resolve };
      void this.check();
    });
  }

  /** A key for the task: the backend's own, unless this task used it already (SEP-2663: unique over its life). */
  private mint(key: string): string {
    let own = key;
    for (let n = 2; this.usedKeys.has(own); n++) own = `${key}~${n}`;
    this.usedKeys.add(own);
    return own;
  }

  /** Reads the record: stops when it ended (cancelled, expired), takes the answers once all are in. */
  private async check(): Promise<void> {
    if (this.stopped || !this.created) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.checkAgain = false;
        await this.checkOnce();
      } while (this.checkAgain && !this.stopped);
    } finally {
      this.checking = false;
    }
  }

  private async checkOnce(): Promise<void> {
    let record: TaskRecord | undefined;
    try {
      record = await this.tasks.get(this.id);
    } catch {
      return; // The store is down: the next check tries again.
    }
    if (!record || isTerminal(record.status)) {
      this.stop();
      return;
    }
    const waiting = this.waiting;
    if (!waiting || !answersAll(record.inputResponses, waiting.keys)) return;
    const box: { taken?: JsonObject } = {};
    try {
      await this.tasks.write(this.id, (current) => {
        const responses = current.inputResponses;
        if (isTerminal(current.status) || !responses || !answersAll(responses, waiting.keys))
          return undefined;
        box.taken = responses;
        return changed(current, { status: "working" }, ["inputRequests", "inputResponses"]);
      });
    } catch {
      return;
    }
    const taken = box.taken;
    if (!taken || this.waiting !== waiting) return;
    this.waiting = undefined;
    const answers: { [key: string]: JsonObject } = {};
    for (const [own, key] of waiting.keys) answers[key] = taken[own] as JsonObject;
    waiting.resolve(answers);
  }

  /** The task's last status: the result as tools/call would answer it, or the JSON-RPC error. */
  private async settle(status: "completed" | "failed", value: unknown): Promise<void> {
    if (this.stopped) return;
    if (status === "completed") {
      const result = value as JsonObject;
      await this.persist((current) =>
        isTerminal(current.status)
          ? undefined
          : changed(current, { status, result }, [
              "statusMessage",
              "inputRequests",
              "inputResponses",
              "error",
            ]),
      );
    } else {
      const error = errorObject(value);
      const statusMessage = typeof error.message === "string" ? error.message : "Internal error";
      await this.persist((current) =>
        isTerminal(current.status)
          ? undefined
          : changed(current, { status, error, statusMessage }, ["inputRequests", "inputResponses", "result"]),
      );
    }
    this.stop();
  }

  /** A progress message as the task's `statusMessage`, written at most every 250 ms. */
  private progress(p: ProgressUpdate): void {
    if (!this.created) this.req.base.onProgress?.(p);
    const text = p.message ?? (p.total !== undefined ? `${p.progress} of ${p.total}` : `${p.progress}`);
    this.statusMessage = text.slice(0, MAX_STATUS_MESSAGE);
    if (!this.created || this.stopped || this.progressTimer) return;
    const wait = Math.max(0, this.lastProgressWrite + PROGRESS_EVERY_MS - Date.now());
    this.progressTimer = setTimeout(() => {
      this.progressTimer = undefined;
      void this.flushProgress();
    }, wait);
  }

  private async flushProgress(): Promise<void> {
    const text = this.statusMessage;
    if (this.stopped || text === undefined) return;
    this.lastProgressWrite = Date.now();
    await this.tasks
      .write(this.id, (current) =>
        current.status === "working" && current.statusMessage !== text
          ? changed(current, { statusMessage: text })
          : undefined,
      )
      .catch(() => undefined);
  }

  /** A write the task needs, tried again while the store fails; undefined when it did not happen. */
  private async persist(
    change: (current: TaskRecord) => TaskRecord | undefined,
  ): Promise<TaskRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tasks.write(this.id, change);
      } catch {
        if (attempt >= PERSIST_ATTEMPTS) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  /** The context of one call: the run's signal, and a deadline no later than the task's end. */
  private context(input: CallContext["input"]): CallContext {
    const { ttlMs } = this.tasks.settings;
    const timeoutMs = this.created ? Math.max(1, this.createdAt + ttlMs - Date.now()) : ttlMs;
    return { ...this.callContext, timeoutMs, ...(input ? { input } : {}) };
  }

  /** Ends the run here: aborts the RPC, stops watching, gives the slot back. */
  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    clearInterval(this.recheck);
    clearTimeout(this.progressTimer);
    this.unwatch?.();
    this.untrack?.();
    if (!this.released) {
      this.released = true;
      this.tasks.release();
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(undefined);
  }
}

/** Whether `responses` holds an answer for every key. */
function answersAll(responses: JsonObject | undefined, keys: ReadonlyMap<string, string>): boolean {
  if (!responses) return false;
  for (const key of keys.keys()) if (!Object.hasOwn(responses, key)) return false;
  return true;
}

const PENDING = Symbol("pending");
type Settled<T> = { readonly value: T } | { readonly error: unknown };

/** How `promise` settled within `ms`, or {@link PENDING}. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T> | typeof PENDING> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(PENDING), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ error });
      },
    );
  });
}

/** The refusal past `maxRunning`: a tool error the model can see, and retry later. */
function busy(max: number): CallToolResult {
  return toolErrorResult(
    `The gateway is running ${max} tasks, its limit (tasks.max_running). This error is transient; the call may be retried.`,
  );
}
