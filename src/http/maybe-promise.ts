import type { MaybePromise } from "../sessions/types.js";

/** The tail of a chain of steps that must run in order (appends to one stream). */
export interface Tail {
  current: Promise<void> | undefined;
}

/**
 * Runs `step` after the steps queued before it: at once when nothing is
 * pending and it completes synchronously (the in-memory case), else chained.
 * A failing step does not stop the next.
 */
export function serial(tail: Tail, step: () => MaybePromise<unknown>): void {
  if (tail.current === undefined) {
    let r: MaybePromise<unknown>;
    try {
      r = step();
    } catch {
      return;
    }
    if (!(r instanceof Promise)) return;
    const p: Promise<void> = r.then(noop, noop).finally(() => {
      if (tail.current === p) tail.current = undefined;
    });
    tail.current = p;
    return;
  }
  const p: Promise<void> = tail.current
    .then(step)
    .then(noop, noop)
    .finally(() => {
      if (tail.current === p) tail.current = undefined;
    });
  tail.current = p;
}

/**
 * Applies `f` at once to a value, or when a promise of it resolves. Not named
 * `then`: a module exporting `then` is a thenable, which `await import()` calls.
 */
export function andThen<T, U>(v: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** The value, or undefined when the shared state failed. */
export async function settled<T>(v: MaybePromise<T>): Promise<T | undefined> {
  try {
    return await v;
  } catch {
    return undefined;
  }
}

/** Fire and forget: a failure of the shared state here is not the request's failure. */
export function quietly(v: MaybePromise<unknown>): void {
  if (v instanceof Promise) v.catch(noop);
}

function noop(): void {}
