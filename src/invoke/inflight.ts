/**
 * Counts backend calls in flight against a bound: one per backend, and one
 * shared by all backends. A call that finds either full is refused at once
 * rather than queued, so a flood of slow calls cannot become an unbounded
 * number of backend streams and buffered results.
 */
export class InflightLimit {
  private count = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; false when none is free. */
  acquire(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  release(): void {
    if (this.count > 0) this.count--;
  }

  get inflight(): number {
    return this.count;
  }
}

/** Takes a slot of every limit; when one is full, takes none and returns that one. */
export function acquireAll(limits: readonly InflightLimit[]): InflightLimit | undefined {
  for (let i = 0; i < limits.length; i++) {
    const limit = limits[i] as InflightLimit;
    if (!limit.acquire()) {
      for (let j = 0; j < i; j++) (limits[j] as InflightLimit).release();
      return limit;
    }
  }
  return undefined;
}

/** Gives back the slots {@link acquireAll} took. */
export function releaseAll(limits: readonly InflightLimit[]): void {
  for (const limit of limits) limit.release();
}

/** Runs `work` holding a slot of every limit, or returns `refused()` when one is full. */
export async function withinLimits<T>(
  limits: readonly InflightLimit[],
  refused: (full: InflightLimit) => T,
  work: () => Promise<T>,
): Promise<T> {
  const full = acquireAll(limits);
  if (full) return refused(full);
  try {
    return await work();
  } finally {
    releaseAll(limits);
  }
}
