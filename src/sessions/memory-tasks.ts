import type { TaskRecord, TaskStore } from "./types.js";

/** Most task records one process keeps by default. */
export const DEFAULT_MAX_TASKS = 10_000;

interface Entry {
  record: TaskRecord;
  /** When the record is gone, ms since the epoch (its creation plus its TTL). */
  readonly expiresAt: number;
}

/**
 * Task records in this process's memory, for a single replica. Bounded: past
 * `maxTasks` a create first forgets expired records, then the oldest finished
 * one, and only when every record is still running the oldest of all (the
 * gateway bounds running tasks far below this, so that last case means a
 * misconfiguration, and the bound must hold anyway). Expired records are
 * dropped when read or when room is needed.
 */
export class MemoryTaskStore implements TaskStore {
  /** In creation order: the first entries are the oldest. */
  private readonly tasks = new Map<string, Entry>();

  constructor(
    private readonly maxTasks = DEFAULT_MAX_TASKS,
    private readonly clock: () => number = Date.now,
  ) {}

  create(record: TaskRecord): boolean {
    if (this.get(record.id)) return false;
    if (this.tasks.size >= this.maxTasks) this.makeRoom();
    this.tasks.set(record.id, { record, expiresAt: record.createdAt + record.ttlMs });
    return true;
  }

  get(id: string): TaskRecord | undefined {
    const entry = this.tasks.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.tasks.delete(id);
      return undefined;
    }
    return entry.record;
  }

  compareAndSet(version: number, next: TaskRecord): boolean {
    const entry = this.tasks.get(next.id);
    if (!entry || entry.expiresAt <= this.clock() || entry.record.version !== version) return false;
    entry.record = next;
    return true;
  }

  /** Records kept (expired ones not yet dropped included). */
  get size(): number {
    return this.tasks.size;
  }

  /** Forgets every record (the shared state is closing). */
  clear(): void {
    this.tasks.clear();
  }

  private makeRoom(): void {
    const now = this.clock();
    for (const [id, entry] of this.tasks) if (entry.expiresAt <= now) this.tasks.delete(id);
    if (this.tasks.size < this.maxTasks) return;
    for (const [id, entry] of this.tasks) {
      if (isTerminal(entry.record)) {
        this.tasks.delete(id);
        return;
      }
    }
    const oldest = this.tasks.keys().next();
    if (!oldest.done) this.tasks.delete(oldest.value);
  }
}

function isTerminal(record: TaskRecord): boolean {
  return record.status === "completed" || record.status === "failed" || record.status === "cancelled";
}
