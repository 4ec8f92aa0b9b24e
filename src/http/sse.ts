import type { ServerResponse } from "node:http";

/** Headers of every SSE response; `X-Accel-Buffering: no` keeps nginx from holding events back. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
} as const;

/** One JSON-RPC message as an SSE `message` event, with an `id` when the stream is resumable. */
export function sseEvent(message: unknown, id?: string): string {
  const data = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
  return id === undefined ? data : `id: ${id}\n${data}`;
}

/** Options of an {@link EventStream}. */
export interface EventStreamOptions {
  /** Most events kept for replay; older ones are dropped (bounded memory). */
  readonly maxBuffered: number;
  /** Most bytes of events kept for replay (default 4 MiB); older ones are dropped. */
  readonly maxBufferedBytes?: number;
  /** Interval of `: keep-alive` comments while a connection is attached, in ms (0: none). */
  readonly keepAliveMs: number;
  /** Reconnection delay suggested to the client (the SSE `retry` field), in ms. */
  readonly retryMs: number;
  /** Send a priming event (an id and empty data) first, so the client can resume (MCP 2025-11-25). */
  readonly prime: boolean;
  /** Shared bounds on replay bytes (the session's, the gateway's) this stream counts against. */
  readonly budgets?: readonly ReplayBudget[];
}

/**
 * A bound on the replay bytes of many streams (one session's, or the whole
 * gateway's). Past it, the oldest streams give up what they keep: finished
 * streams with no connection first, whole; then the oldest events of the
 * others. Replay is best effort; memory is not.
 */
export class ReplayBudget {
  used = 0;
  /** Streams in the order they were opened: the first are the oldest. */
  private readonly streams = new Set<EventStream>();

  constructor(readonly maxBytes: number) {}

  /** Counts `bytes` more (or fewer) for `stream`, reclaiming from the oldest streams past the bound. */
  charge(stream: EventStream, bytes: number): void {
    this.used += bytes;
    if (bytes > 0) this.streams.add(stream);
    if (this.used <= this.maxBytes) return;
    for (const s of this.streams) {
      if (s.done && !s.live) s.release();
      if (this.used <= this.maxBytes) return;
    }
    for (const s of this.streams) {
      let dropped = true;
      while (this.used > this.maxBytes && dropped) dropped = s.dropOldest();
      if (this.used <= this.maxBytes) return;
    }
  }

  /** The stream keeps nothing any more. */
  forget(stream: EventStream): void {
    this.streams.delete(stream);
  }
}

interface Buffered {
  readonly seq: number;
  readonly frame: string;
}

/**
 * One resumable SSE stream of a session (MCP 2025-11-25 basic/transports
 * "Resumability and Redelivery"): every event has an id `<stream>_<seq>`, the
 * stream outlives its HTTP connection, and a client reconnecting with
 * `Last-Event-ID` gets the events of this stream after that id, then the rest live.
 */
export class EventStream {
  private seq = 0;
  private readonly buffer: Buffered[] = [];
  private bufferedBytes = 0;
  private res: ServerResponse | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The stream will carry no more events. */
  done = false;

  constructor(
    readonly id: string,
    private readonly options: EventStreamOptions,
  ) {}

  /** A connection is attached. */
  get live(): boolean {
    return this.res !== undefined;
  }

  /**
   * Attaches a connection: writes the SSE headers (plus `extra`), the priming
   * event on first attach, and the buffered events after `afterSeq`.
   */
  attach(res: ServerResponse, extra: { [k: string]: string } = {}, afterSeq?: number): void {
    // A client resuming while the stream's earlier connection is still open (MCP 2025-11-25
    // "Resumability"): that connection is ended, so one stream never feeds two.
    this.detach(true);
    this.res = res;
    res.writeHead(200, { ...SSE_HEADERS, ...extra });
    // Headers go out now even when there is nothing to replay yet.
    res.flushHeaders();
    if (afterSeq === undefined) {
      if (this.options.prime)
        this.write(`id: ${this.nextId()}\nretry: ${this.options.retryMs}\ndata: \n\n`, false);
    } else {
      for (const e of this.buffer) if (e.seq > afterSeq) res.write(e.frame);
    }
    res.on("close", () => {
      if (this.res === res) this.detach();
    });
    if (this.done) {
      this.detach(true);
      return;
    }
    if (this.options.keepAliveMs > 0) {
      this.timer = setInterval(() => this.res?.write(": keep-alive\n\n"), this.options.keepAliveMs);
      this.timer.unref();
    }
  }

  /** Sends one JSON-RPC message as an event (buffered for replay). */
  send(message: unknown): void {
    this.write(sseEvent(message, this.nextId()), true);
  }

  /** Ends the stream: no more events; the connection, if any, is closed. */
  end(): void {
    this.done = true;
    this.detach(true);
  }

  /** The sequence number of one of this stream's event ids, if it is one. */
  static parseEventId(id: string): { stream: string; seq: number } | undefined {
    const cut = id.lastIndexOf("_");
    if (cut <= 0) return undefined;
    const seq = Number(id.slice(cut + 1));
    return Number.isSafeInteger(seq) ? { stream: id.slice(0, cut), seq } : undefined;
  }

  private nextId(): string {
    this.seq += 1;
    return `${this.id}_${this.seq}`;
  }

  private write(frame: string, keep: boolean): void {
    if (keep) {
      this.buffer.push({ seq: this.seq, frame });
      this.bufferedBytes += frame.length;
      for (const b of this.options.budgets ?? []) b.charge(this, frame.length);
      const maxBytes = this.options.maxBufferedBytes ?? 4 * 1024 * 1024;
      // Bounded by count and by bytes, the newest event included: one larger than the bound is sent
      // but not kept for replay.
      while (this.buffer.length > this.options.maxBuffered || this.bufferedBytes > maxBytes) {
        if (!this.dropOldest()) break;
      }
    }
    this.res?.write(frame);
  }

  /** Drops the oldest kept event; false when none is left. */
  dropOldest(): boolean {
    const first = this.buffer.shift();
    if (!first) return false;
    this.bufferedBytes -= first.frame.length;
    for (const b of this.options.budgets ?? []) b.used -= first.frame.length;
    return true;
  }

  /** Keeps nothing more for replay (the stream was evicted, or its session closed). */
  release(): void {
    let dropped = true;
    while (dropped) dropped = this.dropOldest();
    for (const b of this.options.budgets ?? []) b.forget(this);
  }

  /** Bytes kept for replay. */
  get keptBytes(): number {
    return this.bufferedBytes;
  }

  private detach(end = false): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const res = this.res;
    this.res = undefined;
    if (end && res && !res.writableEnded) res.end();
  }
}
