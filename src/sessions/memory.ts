import { type HandlerErrorSink, MemoryReplicaRegistry, MemorySessionBus } from "./memory-bus.js";
import { MemoryEventLog } from "./memory-log.js";
import { MemorySessionStore } from "./memory-store.js";
import { MemoryTaskStore } from "./memory-tasks.js";
import type { EventLogBounds, SharedState } from "./types.js";

/** Options of {@link createMemorySharedState}. */
export interface MemorySharedStateOptions {
  readonly bounds: EventLogBounds;
  /** Where a bus handler's exception is reported. Default: a process warning. */
  readonly onHandlerError?: HandlerErrorSink;
  /** The clock of event-log and task TTLs (ms since the epoch). Default: `Date.now`. */
  readonly clock?: () => number;
  /** Most task records kept (see {@link MemoryTaskStore}). Default 10 000. */
  readonly maxTasks?: number;
}

/**
 * The shared state of a single replica, in memory: nothing is shared, nothing
 * survives a restart, every operation answers at once (synchronously where
 * the interface allows).
 */
export function createMemorySharedState(options: MemorySharedStateOptions): SharedState {
  const sessions = new MemorySessionStore();
  const events = new MemoryEventLog(options.bounds, options.clock);
  const bus = new MemorySessionBus(options.onHandlerError);
  const replicas = new MemoryReplicaRegistry();
  const tasks = new MemoryTaskStore(options.maxTasks, options.clock);
  return {
    kind: "memory",
    sessions,
    tasks,
    events,
    bus,
    replicas,
    ready: () => Promise.resolve(true),
    close() {
      sessions.clear();
      events.clear();
      bus.clear();
      replicas.clear();
      tasks.clear();
      return Promise.resolve();
    },
  };
}
