import type { EventLog, EventLogBounds, LoggedEvent, Replay, StreamOrigin } from "./types.js";

/** A kept event and its size in UTF-8 bytes (what Redis would store). */
interface Kept {
  readonly seq: number;
  readonly data: string;
  readonly bytes: number;
}

/** The streams of one session, in the order they were opened, and the bytes they keep. */
interface SessionLog {
  readonly id: string;
  readonly streams: Map<string, Stream>;
  bytes: number;
}

/** One stream: its numbering, state and kept events (a queue: `events` from `head` on). */
class Stream {
  seq = 0;
  done = false;
  bytes = 0;
  events: Kept[] = [];
  head = 0;

  constructor(
    readonly log: SessionLog,
    readonly id: string,
    readonly origin: StreamOrigin,
    public touched: number,
  ) {}

  get kept(): number {
    return this.events.length - this.head;
  }

  /** Takes the oldest kept event off the queue, compacting it now and then (amortised O(1)). */
  shift(): Kept | undefined {
    const first = this.events[this.head];
    if (!first) return undefined;
    this.head++;
    if (this.head >= 64 && this.head * 2 >= this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
    return first;
  }
}

/**
 * Resumable SSE streams of one replica, in memory (MCP 2025-11-25
 * basic/transports "Resumability and Redelivery"), within {@link EventLogBounds}:
 * - per stream: at most `maxEvents` events and `maxStreamBytes` bytes, the
 *   oldest going first; an event larger than `maxStreamBytes` is numbered but
 *   not kept;
 * - per session: `maxSessionBytes` over its streams; past it, its ended
 *   streams are dropped whole, oldest first, then the oldest events of its
 *   oldest streams; `maxStreams` streams, past which the oldest ended one is
 *   dropped when a stream opens (streams still running are never dropped for this);
 * - over all sessions: `maxTotalBytes`; past it, ended streams are dropped
 *   whole in the order they ended, then the oldest events of the streams that
 *   have held events longest;
 * - a stream with no new event for `ttlMs` is forgotten when next looked at.
 *
 * `append` to a stream that is not known (never opened, dropped, forgotten)
 * returns 0 and keeps nothing: numbering it from 1 again would reuse event ids
 * the client has already seen.
 */
export class MemoryEventLog implements EventLog {
  private readonly sessions = new Map<string, SessionLog>();
  private total = 0;
  /** Streams keeping at least one event, in the order they started to. */
  private readonly holding = new Set<Stream>();
  /** Ended streams keeping at least one event, in the order they ended. */
  private readonly ended = new Set<Stream>();

  constructor(
    private readonly bounds: EventLogBounds,
    private readonly clock: () => number = Date.now,
  ) {}

  open(session: string, stream: string, origin: StreamOrigin): void {
    const now = this.clock();
    let log = this.sessions.get(session);
    if (!log) {
      log = { id: session, streams: new Map(), bytes: 0 };
      this.sessions.set(session, log);
    }
    const known = log.streams.get(stream);
    if (known && !this.expired(known, now)) return;
    // Opening is rare next to appending: the place to forget this session's expired streams.
    for (const s of log.streams.values()) if (this.expired(s, now)) this.forget(s);
    const created = new Stream(log, stream, origin, now);
    log.streams.set(stream, created);
    if (log.streams.size <= this.bounds.maxStreams) return;
    for (const s of log.streams.values()) {
      if (s.done && s !== created) this.forget(s);
      if (log.streams.size <= this.bounds.maxStreams) return;
    }
  }

  append(session: string, stream: string, data: string): number {
    const s = this.sessions.get(session)?.streams.get(stream);
    if (!s) return 0;
    const now = this.clock();
    if (this.expired(s, now)) {
      this.forget(s);
      return 0;
    }
    s.touched = now;
    const seq = ++s.seq;
    const bytes = Buffer.byteLength(data, "utf8");
    const { maxEvents, maxStreamBytes, maxSessionBytes, maxTotalBytes } = this.bounds;
    if (bytes > maxStreamBytes || maxEvents < 1) return seq;
    while ((s.kept >= maxEvents || s.bytes + bytes > maxStreamBytes) && this.dropOldest(s)) {}
    s.events.push({ seq, data, bytes });
    s.bytes += bytes;
    s.log.bytes += bytes;
    this.total += bytes;
    if (s.kept === 1) this.holding.add(s);
    if (s.done) this.ended.add(s);
    if (s.log.bytes > maxSessionBytes) this.reclaimSession(s);
    if (this.total > maxTotalBytes) this.reclaimTotal(s);
    return seq;
  }

  end(session: string, stream: string): void {
    const s = this.sessions.get(session)?.streams.get(stream);
    if (!s) return;
    s.done = true;
    if (s.kept > 0) this.ended.add(s);
  }

  replay(session: string, stream: string, afterSeq: number): Replay | undefined {
    const s = this.sessions.get(session)?.streams.get(stream);
    if (!s) return undefined;
    if (this.expired(s, this.clock())) {
      this.forget(s);
      return undefined;
    }
    const events: LoggedEvent[] = [];
    for (let i = firstAfter(s.events, s.head, afterSeq); i < s.events.length; i++) {
      const e = s.events[i] as Kept;
      events.push({ seq: e.seq, data: e.data });
    }
    const { requestId, replica } = s.origin;
    const { done, seq: lastSeq } = s;
    return requestId === undefined
      ? { replica, events, done, lastSeq }
      : { requestId, replica, events, done, lastSeq };
  }

  drop(session: string): Promise<void> {
    const log = this.sessions.get(session);
    if (log) for (const s of log.streams.values()) this.forget(s);
    this.sessions.delete(session);
    return Promise.resolve();
  }

  /** Bytes kept over all sessions. */
  get keptBytes(): number {
    return this.total;
  }

  /** Forgets everything (the shared state is closing). */
  clear(): void {
    this.sessions.clear();
    this.holding.clear();
    this.ended.clear();
    this.total = 0;
  }

  private expired(s: Stream, now: number): boolean {
    return now - s.touched > this.bounds.ttlMs;
  }

  /** Past the session's bound: its ended (or expired) streams whole, then its oldest events. */
  private reclaimSession(current: Stream): void {
    const log = current.log;
    const max = this.bounds.maxSessionBytes;
    const now = this.clock();
    for (const s of log.streams.values()) {
      if (log.bytes <= max) return;
      if (s !== current && s.bytes > 0 && (s.done || this.expired(s, now))) this.forget(s);
    }
    for (const s of log.streams.values()) {
      while (log.bytes > max && this.dropOldest(s)) {}
      if (log.bytes <= max) return;
    }
  }

  /** Past the bound of this replica: ended streams whole, then the oldest events of the oldest streams. */
  private reclaimTotal(current: Stream): void {
    const max = this.bounds.maxTotalBytes;
    for (const s of this.ended) {
      if (this.total <= max) return;
      if (s !== current) this.forget(s);
    }
    for (const s of this.holding) {
      while (this.total > max && this.dropOldest(s)) {}
      if (this.total <= max) return;
    }
  }

  private dropOldest(s: Stream): boolean {
    const e = s.shift();
    if (!e) return false;
    s.bytes -= e.bytes;
    s.log.bytes -= e.bytes;
    this.total -= e.bytes;
    if (s.kept === 0) {
      this.holding.delete(s);
      this.ended.delete(s);
    }
    return true;
  }

  /** The stream is no longer known: replay finds nothing, append numbers nothing. */
  private forget(s: Stream): void {
    s.log.bytes -= s.bytes;
    this.total -= s.bytes;
    s.bytes = 0;
    s.events = [];
    s.head = 0;
    this.holding.delete(s);
    this.ended.delete(s);
    if (s.log.streams.get(s.id) === s) s.log.streams.delete(s.id);
  }
}

/** Index of the first kept event numbered above `afterSeq` (numbers increase along the queue). */
function firstAfter(events: readonly Kept[], head: number, afterSeq: number): number {
  let lo = head;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid] as Kept).seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
