/** One bound on the requests of a caller or a session; an absent member bounds nothing. */
export interface RequestLimit {
  /** Most requests running at once (at least 1). */
  readonly maxConcurrent?: number;
  /** A token bucket of `burst` tokens (at least 1) refilled at `perSecond` (above 0); a request takes one. */
  readonly rate?: { readonly perSecond: number; readonly burst: number };
}

/** The limits per caller and per session (config `limits`); absent ones bound nothing. */
export interface RequestLimits {
  readonly perCaller?: RequestLimit;
  readonly perSession?: RequestLimit;
}

/** Options of {@link createRequestLimiter} beyond the limits. */
export interface RequestLimiterOptions {
  /** Keys tracked per scope before the least recently used go (default {@link MAX_LIMIT_ENTRIES}). */
  readonly maxEntries?: number;
  /** A monotonic clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

/** Whose limit: the caller's (all its requests) or one session's. */
export type LimitScope = "caller" | "session";
/** Which bound: requests running at once, or the rate. */
export type LimitKind = "concurrent" | "rate";

/** A request over a limit. */
export interface LimitRefusal {
  readonly ok: false;
  readonly which: LimitKind;
  readonly scope: LimitScope;
  /** Whole seconds, at least 1: when a token is back (rate), or a guess (concurrency). */
  readonly retryAfterSeconds: number;
  /** Names the limit, e.g. `rate limit of 5 requests/s per caller exceeded; retry after 1s`. */
  readonly message: string;
}

/** An admitted request: `release` when its reply is finished (later calls do nothing). */
export interface LimitTicket {
  readonly ok: true;
  release(): void;
}

/** What {@link RequestLimiter.admit} decides. */
export type LimitAdmission = LimitTicket | LimitRefusal;

/** The limits of one gateway process, over the requests it runs. */
export interface RequestLimiter {
  /**
   * Admits one request of `caller` (and of its session `session`, when it has
   * one), counting it against both, or refuses it without counting it at all.
   */
  admit(caller: string, session?: string): LimitAdmission;
  /** Keys tracked in a scope (for tests). */
  size(scope: LimitScope): number;
}

/**
 * Keys tracked per scope by default. An entry costs about 200 bytes, so the
 * worst case (that many callers seen within one refill) is about 10 MB.
 */
export const MAX_LIMIT_ENTRIES = 50_000;

/** Retry-After of a refusal for concurrency: when a running request ends is unknowable. */
const CONCURRENT_RETRY_SECONDS = 1;
/** Entries a new key looks at for one to evict when the table is full. */
const EVICT_SCAN = 16;
/** Entries a new key looks at for idle ones to drop, so stale entries go without a timer. */
const SWEEP_SCAN = 2;

/** What a key has running and left in its bucket, linked in its table's order of use. */
interface Entry {
  readonly key: string;
  running: number;
  tokens: number;
  /** When `tokens` was last refilled (ms). */
  at: number;
  /** The entries used just before and just after this one. */
  older: Entry | undefined;
  newer: Entry | undefined;
  /** Whether it is still in its table (requests of an evicted entry release into nothing). */
  kept: boolean;
}

/**
 * The limiter for `limits`, or undefined when they bound nothing: callers then
 * skip it entirely, so a gateway without limits pays nothing per request.
 * Throws on limits out of range (config validation keeps them in).
 */
export function createRequestLimiter(
  limits: RequestLimits,
  options: RequestLimiterOptions = {},
): RequestLimiter | undefined {
  const maxEntries = options.maxEntries ?? MAX_LIMIT_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new Error("maxEntries must be a positive integer");
  const now = options.now ?? (() => performance.now());
  const callers = table("caller", limits.perCaller, maxEntries, now);
  const sessions = table("session", limits.perSession, maxEntries, now);
  if (!callers && !sessions) return undefined;
  return {
    admit(callerKey, sessionId) {
      const t = now();
      // A session is counted under its caller too: another caller naming the same id cannot use up its budget.
      const sessionKey = sessions && sessionId !== undefined ? `${callerKey} ${sessionId}` : undefined;
      const c = callers?.find(callerKey);
      const s = sessionKey === undefined ? undefined : sessions?.find(sessionKey);
      // Both are checked before either is counted: a refused request costs neither scope anything.
      const refused = (c && callers?.refusal(c, t)) || (s && sessions?.refusal(s, t));
      if (refused) return refused;
      const caller = callers?.take(callerKey, c, t);
      const session = sessionKey === undefined ? undefined : sessions?.take(sessionKey, s, t);
      if (!caller && !session) return UNCOUNTED;
      return new Ticket(callers, caller, sessions, session);
    },
    size: (scope) => (scope === "caller" ? callers : sessions)?.size ?? 0,
  };
}

/** A request no limit applies to (only per-session limits, and no session). */
const UNCOUNTED: LimitTicket = Object.freeze({ ok: true as const, release() {} });

/** An admitted request's hold on its entries. */
class Ticket implements LimitTicket {
  readonly ok = true;
  private released = false;

  constructor(
    private readonly callers: LimitTable | undefined,
    private readonly caller: Entry | undefined,
    private readonly sessions: LimitTable | undefined,
    private readonly session: Entry | undefined,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.caller) this.callers?.release(this.caller);
    if (this.session) this.sessions?.release(this.session);
  }
}

function table(
  scope: LimitScope,
  limit: RequestLimit | undefined,
  maxEntries: number,
  now: () => number,
): LimitTable | undefined {
  if (!limit || (limit.maxConcurrent === undefined && limit.rate === undefined)) return undefined;
  const { maxConcurrent, rate } = limit;
  const path = scope === "caller" ? "perCaller" : "perSession";
  if (maxConcurrent !== undefined && !(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) {
    throw new Error(`${path}.maxConcurrent must be a positive integer`);
  }
  if (rate && !(Number.isFinite(rate.perSecond) && rate.perSecond > 0)) {
    throw new Error(`${path}.rate.perSecond must be a positive number`);
  }
  if (rate && !(Number.isInteger(rate.burst) && rate.burst >= 1)) {
    throw new Error(`${path}.rate.burst must be a positive integer`);
  }
  return new LimitTable(scope, limit, maxEntries, now);
}

/**
 * The entries of one scope: a map by key, and a list from the least to the
 * most recently used. An entry carries information only while something runs
 * or its bucket is not full: it goes on release when neither holds, else in
 * the sweep of the oldest that each new key makes (no timer). Past
 * `maxEntries` the least recently used idle entry is evicted, or, when every
 * one looked at is running, the oldest: its caller is then briefly unbounded,
 * rather than a new caller refused because the table is full.
 */
class LimitTable {
  private readonly byKey = new Map<string, Entry>();
  private oldest: Entry | undefined;
  private newest: Entry | undefined;

  constructor(
    private readonly scope: LimitScope,
    private readonly limit: RequestLimit,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  find(key: string): Entry | undefined {
    return this.byKey.get(key);
  }

  /** Why one more request of `entry` is refused at `now`, or undefined when it is within the limit. */
  refusal(entry: Entry, now: number): LimitRefusal | undefined {
    const { maxConcurrent, rate } = this.limit;
    if (maxConcurrent !== undefined && entry.running >= maxConcurrent) {
      const text = `concurrency limit of ${maxConcurrent} running requests per ${this.scope} exceeded`;
      return refusal("concurrent", this.scope, CONCURRENT_RETRY_SECONDS, text);
    }
    if (rate === undefined) return undefined;
    this.refill(entry, now);
    if (entry.tokens >= 1) return undefined;
    // The time until the bucket holds a whole token again.
    const seconds = Math.max(1, Math.ceil((1 - entry.tokens) / rate.perSecond));
    const text = `rate limit of ${rate.perSecond} requests/s per ${this.scope} exceeded`;
    return refusal("rate", this.scope, seconds, text);
  }

  /** Counts a request of `key` (whose entry is `found`) that {@link refusal} let through. */
  take(key: string, found: Entry | undefined, now: number): Entry {
    let entry = found;
    if (entry) {
      this.unlink(entry);
    } else {
      this.sweep(now);
      if (this.byKey.size >= this.maxEntries) this.evict();
      const tokens = this.limit.rate?.burst ?? 0;
      entry = { key, running: 0, tokens, at: now, older: undefined, newer: undefined, kept: true };
      this.byKey.set(key, entry);
    }
    this.append(entry);
    entry.running++;
    if (this.limit.rate) entry.tokens -= 1;
    return entry;
  }

  release(entry: Entry): void {
    entry.running--;
    if (entry.running === 0 && entry.kept && this.full(entry, this.now())) this.remove(entry);
  }

  private refill(entry: Entry, now: number): void {
    const rate = this.limit.rate;
    if (!rate || now <= entry.at) return;
    entry.tokens = Math.min(rate.burst, entry.tokens + ((now - entry.at) / 1000) * rate.perSecond);
    entry.at = now;
  }

  /** Whether the bucket is full again: the entry then says nothing a fresh one would not. */
  private full(entry: Entry, now: number): boolean {
    const rate = this.limit.rate;
    if (!rate) return true;
    this.refill(entry, now);
    return entry.tokens >= rate.burst;
  }

  /**
   * Drops idle, refilled entries among the oldest. A running one becomes the
   * newest (it is in use), so a long call does not stop the sweep for good.
   */
  private sweep(now: number): void {
    for (let looked = 0; looked < SWEEP_SCAN; looked++) {
      const entry = this.oldest;
      if (!entry) return;
      if (entry.running > 0) {
        this.unlink(entry);
        this.append(entry);
      } else if (this.full(entry, now)) {
        this.remove(entry);
      } else {
        // Used after this one, the rest are unlikely to have refilled.
        return;
      }
    }
  }

  private evict(): void {
    let entry = this.oldest;
    for (let looked = 0; entry && looked < EVICT_SCAN; looked++, entry = entry.newer) {
      if (entry.running === 0) {
        this.remove(entry);
        return;
      }
    }
    if (this.oldest) this.remove(this.oldest);
  }

  private remove(entry: Entry): void {
    this.unlink(entry);
    this.byKey.delete(entry.key);
    entry.kept = false;
  }

  private unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }

  private append(entry: Entry): void {
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }
}

function refusal(which: LimitKind, scope: LimitScope, retryAfterSeconds: number, text: string): LimitRefusal {
  return {
    ok: false,
    which,
    scope,
    retryAfterSeconds,
    message: `${text}; retry after ${retryAfterSeconds}s`,
  };
}
