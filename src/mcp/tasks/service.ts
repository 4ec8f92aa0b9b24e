import { randomBytes, randomUUID } from "node:crypto";
import { MemorySessionBus } from "../../sessions/memory-bus.js";
import { MemoryTaskStore } from "../../sessions/memory-tasks.js";
import {
  type ReplicaRegistry,
  type SessionBus,
  type TaskRecord,
  type TaskStore,
  taskChannel,
} from "../../sessions/types.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { RunningTask, TaskKind, TaskService, TaskSettings } from "./types.js";

/** Options of the MCP tasks (extension io.modelcontextprotocol/tasks); every one has a default. */
export interface TaskOptions {
  /** Where task records live: the shared state's (Redis for several replicas). Default: this process's memory. */
  readonly store?: TaskStore;
  /** Carries task changes between replicas (cancellations, answers). Default: this process's memory. */
  readonly bus?: SessionBus;
  /** This replica's name, stored on the tasks it runs. Default: a random one. */
  readonly replica?: string;
  /**
   * Replica leases: while tasks run here this replica renews its lease, and a
   * task whose replica's lease lapsed (it died) is failed when next read.
   * Default: none (a task of a replica that died stays working until its TTL).
   */
  readonly replicas?: ReplicaRegistry;
  /** How long a lease lasts without renewal, ms (the sessions' `replica_lease`). Default 15 s. */
  readonly leaseMs?: number;
  /** How long a task lives from its creation, ms (SEP-2663 `ttlMs`). Default 1 hour. */
  readonly ttlMs?: number;
  /** The polling interval suggested to clients, ms (SEP-2663 `pollIntervalMs`). Default 1 s. */
  readonly pollIntervalMs?: number;
  /**
   * How long a call that may become a task runs before it does, ms: a call
   * that finishes sooner, or asks for input first, is answered directly
   * (SEP-2663: the server decides per request; MRTR before the task). 0 makes
   * every such call a task at once. Default 500 ms.
   */
  readonly syncWindowMs?: number;
  /** Most calls this replica runs as tasks (or may, within the window) at once. Default 256. */
  readonly maxRunning?: number;
  /** Kinds of task besides the local runs (e.g. operation-backed; see types.ts). */
  readonly kinds?: readonly TaskKind[];
}

/** Longest task id looked up: anything longer was never issued. */
const MAX_ID_LENGTH = 64;
/** Compare-and-set rounds before a write gives up (other writers keep winning). */
const MAX_WRITE_ROUNDS = 16;

/** Creates the task service over a store and a bus, with `kinds` (the first is the default). */
export function createTaskService(options: TaskOptions, kinds: readonly TaskKind[]): TaskService {
  const store = options.store ?? new MemoryTaskStore();
  const bus = options.bus ?? new MemorySessionBus();
  const settings: TaskSettings = {
    ttlMs: options.ttlMs ?? 60 * 60_000,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    syncWindowMs: options.syncWindowMs ?? 500,
    maxRunning: options.maxRunning ?? 256,
  };
  const byName = new Map([...kinds, ...(options.kinds ?? [])].map((k) => [k.name, k]));
  const runs = new Set<RunningTask>();
  const replica = options.replica ?? randomUUID();
  const { replicas } = options;
  const leaseMs = options.leaseMs ?? 15_000;
  let taken = 0;
  /** Until when this replica's lease was last renewed to. */
  let leasedUntil = 0;
  let renewer: NodeJS.Timeout | undefined;

  /** Renews the lease when a third of it is spent; before a task is stored, it must hold. */
  async function renewLease(): Promise<void> {
    if (!replicas || leasedUntil - Date.now() > (leaseMs * 2) / 3) return;
    const until = Date.now() + leaseMs;
    await replicas.renew(replica, until);
    leasedUntil = until;
  }

  /** Store failures (Redis down) as a JSON-RPC error that says so. */
  async function guarded<T>(op: () => T | Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new JsonRpcError(ErrorCode.InternalError, `Tasks are unavailable: ${why}`);
    }
  }

  const service: TaskService = {
    settings,
    replica,
    newId: () => randomBytes(16).toString("base64url"),
    acquire() {
      if (taken >= settings.maxRunning) return false;
      taken++;
      return true;
    },
    release() {
      taken = Math.max(0, taken - 1);
    },
    running: () => taken,
    async create(record) {
      // Another replica reading the task must find this one alive.
      await guarded(renewLease);
      const created = await guarded(() => store.create(record));
      if (!created) throw new JsonRpcError(ErrorCode.InternalError, "Could not create the task");
    },
    async find(id, owner) {
      if (id.length > MAX_ID_LENGTH) return undefined;
      const record = await guarded(() => store.get(id));
      return record?.owner === owner ? record : undefined;
    },
    get: (id) => guarded(() => store.get(id)),
    async write(id, change) {
      for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
        const current = await guarded(() => store.get(id));
        if (!current) return undefined;
        const next = change(current);
        if (!next) return undefined;
        const written: TaskRecord = {
          ...next,
          id,
          version: current.version + 1,
          updatedAt: Math.max(Date.now(), current.updatedAt),
        };
        if (await guarded(() => store.compareAndSet(current.version, written))) {
          // At most once: a replica that misses it reads the record again on its own (run.ts).
          void Promise.resolve()
            .then(() => bus.publish(taskChannel(id), { kind: "task" }))
            .catch(() => undefined);
          return written;
        }
      }
      throw new JsonRpcError(ErrorCode.InternalError, "The task changed too often to be written");
    },
    async watch(id, onChange) {
      return guarded(() =>
        bus.subscribe(taskChannel(id), (message) => {
          if (message.kind === "task") onChange();
        }),
      );
    },
    kind(name) {
      const kind = byName.get(name);
      if (!kind)
        throw new JsonRpcError(ErrorCode.InternalError, `This gateway cannot serve a "${name}" task`);
      return kind;
    },
    track(run) {
      runs.add(run);
      if (replicas && !renewer) {
        renewer = setInterval(() => void renewLease().catch(() => undefined), leaseMs / 3);
        renewer.unref();
      }
      return () => {
        runs.delete(run);
        if (runs.size === 0 && renewer) {
          clearInterval(renewer);
          renewer = undefined;
        }
      };
    },
    async alive(name) {
      if (!replicas || name === replica) return true;
      return guarded(() => replicas.alive(name, Date.now()));
    },
    close() {
      for (const run of [...runs]) run.shutdown();
      runs.clear();
      clearInterval(renewer);
      renewer = undefined;
    },
  };
  return service;
}
