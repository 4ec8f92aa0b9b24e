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

/** Runs `work` holding a slot of every limit, or returns `refused()` when one is full. */
export async function withinLimits<T>(
  limits: readonly InflightLimit[],
  refused: (full: InflightLimit) => T,
  work: () => Promise<T>,
): Promise<T> {
  const taken: InflightLimit[] = [];
  for (const limit of limits) {
    if (!limit.acquire()) {
      for (const t of taken) t.release();
      return refused(limit);
    }
    taken.push(limit);
  }
  try {
    return await work();
  } finally {
    for (const t of taken) t.release();
  }
}
