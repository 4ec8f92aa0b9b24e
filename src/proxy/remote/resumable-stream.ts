import { LoginRequiredError, RemoteError } from "../types.js";
import { readSse, type SseEvent } from "./sse-reader.js";

/** How a dropped stream is resumed: bounded attempts with exponential backoff. */
export interface ReconnectPolicy {
  /** Reconnection attempts in a row without receiving an event before giving up. Default 5. */
  readonly maxAttempts: number;
  /** Delay before the first attempt when the server gave no `retry` field (ms). Default 1,000. */
  readonly initialDelayMs: number;
  /** Each further attempt waits this much longer. Default 1.5. */
  readonly growFactor: number;
  /** Longest delay between attempts, whatever `retry` the server asked for (ms). Default 30,000. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = {
  maxAttempts: 5,
  initialDelayMs: 1_000,
  growFactor: 1.5,
  maxDelayMs: 30_000,
};

/** What {@link followStream} needs from the remote around it. */
export interface FollowOptions {
  /** The response whose SSE body is read first; undefined: start with `reopen`. */
  readonly first?: Response;
  /** Opens the stream again: a GET with `Last-Event-ID` when an id is known. Must return a 2xx SSE response. */
  readonly reopen: (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;
  /** Each event, in order (including events without data, such as the priming event). */
  readonly onEvent: (event: SseEvent) => void;
  /** True once the stream has delivered all it owes (for a POST: the response to its request). */
  readonly done: () => boolean;
  /** Whether a stream that dropped before any event id can be reopened (the GET stream: yes, a POST's: no). */
  readonly reopenWithoutId: boolean;
  readonly policy: ReconnectPolicy;
  readonly signal: AbortSignal;
}

/**
 * Reads an SSE stream to its end and resumes it after a drop (MCP 2025-11-25
 * basic/transports "Resumability and Redelivery"): waits the server's `retry`
 * (else backoff), then reopens it with the last event id seen, at most
 * `maxAttempts` times in a row without progress. Resolves when the stream is
 * done or `signal` aborts; rejects with the last failure when it cannot go on.
 */
export async function followStream(o: FollowOptions): Promise<void> {
  let res = o.first;
  let lastEventId: string | undefined;
  let retryMs: number | undefined;
  let failures = 0;
  let lastError: unknown = new RemoteError("the stream ended early");
  for (;;) {
    if (res === undefined) {
      if (failures > 0) {
        if (failures > o.policy.maxAttempts) throw lastError;
        await sleep(delayMs(o.policy, failures, retryMs), o.signal);
      }
      if (o.signal.aborted) return;
      try {
        res = await o.reopen(lastEventId, o.signal);
      } catch (err) {
        if (o.signal.aborted) return;
        if (!retryable(err)) throw err;
        lastError = err;
        failures += 1;
        continue;
      }
    }
    try {
      for await (const event of readSse(res)) {
        // Progress (a new id or data) resets the count; a server that only re-primes does not.
        if (event.data !== "" || (event.id !== undefined && event.id !== lastEventId)) failures = 0;
        if (event.retry !== undefined) retryMs = event.retry;
        if (event.id !== undefined) lastEventId = event.id;
        o.onEvent(event);
        // The server closes the stream after the last message; no need to wait for it.
        if (o.done()) return;
      }
      lastError = new RemoteError("the server closed the stream early");
    } catch (err) {
      if (o.signal.aborted) return;
      if (err instanceof RemoteError) throw err; // the stream itself is bad (e.g. an oversized event)
      lastError = err;
    }
    if (o.done() || o.signal.aborted) return;
    if (lastEventId === undefined && !o.reopenWithoutId) throw lastError;
    res = undefined;
    failures += 1;
  }
}

/**
 * Failures worth another attempt: the network (fetch throws a TypeError), and
 * statuses that say "later" (408, 409 while the server still sees the old
 * connection, 429, 5xx). Login, a gone session (404) or no stream (405) are final.
 */
function retryable(err: unknown): boolean {
  if (err instanceof LoginRequiredError) return false;
  if (err instanceof RemoteError) {
    const s = err.status;
    return s === undefined || s === 408 || s === 409 || s === 429 || s >= 500;
  }
  return true;
}

/**
 * The wait before attempt `n` (1-based): the server's `retry` if it sent one
 * (else the initial delay), growing exponentially with each failure in a row.
 */
export function delayMs(policy: ReconnectPolicy, n: number, retryMs: number | undefined): number {
  const base = retryMs ?? policy.initialDelayMs;
  return Math.min(base * policy.growFactor ** (n - 1), policy.maxDelayMs);
}

/** Waits `ms`, or less if `signal` aborts; never keeps the process alive. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
  });
}
