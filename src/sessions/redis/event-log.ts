import type { EventLog, EventLogBounds, LoggedEvent, Replay, RequestId, StreamOrigin } from "../types.js";
import type { RedisClient, Script } from "./client.js";
import { APPEND, DROP, END, OPEN, REPLAY } from "./event-log-scripts.js";

/**
 * Resumable SSE streams in Redis (MCP 2025-11-25 basic/transports
 * "Resumability and Redelivery"): a stream's events are numbered 1, 2, … by
 * one Lua script (counter and `XADD` with the explicit id `<seq>-0` together),
 * so two replicas appending to one stream never share or skip a number, and a
 * client resuming on any replica gets the events after its `Last-Event-ID`.
 *
 * Bounds, as built (see `event-log-scripts.ts`):
 * - per stream, exact: `maxEvents` events and `maxStreamBytes` bytes, oldest
 *   first; an event larger than `maxStreamBytes` is numbered but not kept;
 * - per session, exact within one append: `maxSessionBytes` over its streams
 *   (ended streams dropped whole first, then the oldest events of its oldest
 *   streams), and `maxStreams`, past which the oldest ended streams are dropped
 *   when one opens;
 * - `maxTotalBytes` is not enforced here: it is one replica's share in memory;
 *   Redis holds at most `maxSessions × maxSessionBytes` of events, and its own
 *   `maxmemory` is the operator's last word;
 * - every key expires `ttlMs` after the stream's last `open`/`append`.
 *
 * Sizes are UTF-8 bytes of the JSON text, as stored. `append` to a stream that
 * is not known (never opened, dropped, expired) returns 0 and keeps nothing.
 */
export class RedisEventLog implements EventLog {
  private readonly openScript: Script;
  private readonly appendScript: Script;
  private readonly endScript: Script;
  private readonly replayScript: Script;
  private readonly dropScript: Script;

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    private readonly bounds: EventLogBounds,
  ) {
    this.openScript = client.script("mcpengineLogOpen", 3, OPEN);
    this.appendScript = client.script("mcpengineLogAppend", 4, APPEND);
    this.endScript = client.script("mcpengineLogEnd", 1, END);
    this.replayScript = client.script("mcpengineLogReplay", 2, REPLAY);
    this.dropScript = client.script("mcpengineLogDrop", 2, DROP);
  }

  open(session: string, stream: string, origin: StreamOrigin): Promise<void> {
    const rid = origin.requestId === undefined ? "" : JSON.stringify(origin.requestId);
    return this.openScript(
      this.meta(session, stream),
      `${this.prefix}l:${session}`,
      `${this.prefix}lb:${session}`,
      this.prefix,
      session,
      stream,
      origin.replica,
      rid,
      this.bounds.ttlMs,
      this.bounds.maxStreams,
    ).then(ignore, this.client.fail);
  }

  append(session: string, stream: string, data: string): Promise<number> {
    const b = this.bounds;
    return this.appendScript(
      this.meta(session, stream),
      this.events(session, stream),
      `${this.prefix}l:${session}`,
      `${this.prefix}lb:${session}`,
      this.prefix,
      session,
      stream,
      data,
      b.maxEvents,
      b.maxStreamBytes,
      b.maxSessionBytes,
      b.ttlMs,
    ).then(toSeq, this.client.fail);
  }

  end(session: string, stream: string): Promise<void> {
    return this.endScript(this.meta(session, stream)).then(ignore, this.client.fail);
  }

  replay(session: string, stream: string, afterSeq: number): Promise<Replay | undefined> {
    const from = `${Math.max(0, Math.floor(afterSeq) + 1)}-0`;
    return this.replayScript(this.meta(session, stream), this.events(session, stream), from).then(
      toReplay,
      this.client.fail,
    );
  }

  drop(session: string): Promise<void> {
    return this.dropScript(
      `${this.prefix}l:${session}`,
      `${this.prefix}lb:${session}`,
      this.prefix,
      session,
    ).then(ignore, this.client.fail);
  }

  private meta(session: string, stream: string): string {
    return `${this.prefix}m:${session}:${stream}`;
  }

  private events(session: string, stream: string): string {
    return `${this.prefix}e:${session}:${stream}`;
  }
}

function toSeq(reply: unknown): number {
  if (typeof reply !== "number") throw new Error(`unexpected reply of the append script: ${String(reply)}`);
  return reply;
}

/** `[done, replica, rid, seq, [[id, [field, value]], …]]` as a {@link Replay}; nil as undefined. */
function toReplay(reply: unknown): Replay | undefined {
  if (!Array.isArray(reply)) return undefined;
  const [done, replica, rid, seq, entries]: unknown[] = reply;
  if (typeof replica !== "string") return undefined;
  const lastSeq = Number(seq);
  const events: LoggedEvent[] = [];
  if (Array.isArray(entries)) {
    for (const entry of entries) {
      const event = toEvent(entry);
      if (event) events.push(event);
    }
  }
  const requestId = parseRequestId(rid);
  const ended = done === "1";
  return requestId === undefined
    ? { replica, events, done: ended, lastSeq }
    : { requestId, replica, events, done: ended, lastSeq };
}

function toEvent(entry: unknown): LoggedEvent | undefined {
  if (!Array.isArray(entry)) return undefined;
  const [id, fields]: unknown[] = entry;
  if (typeof id !== "string" || !Array.isArray(fields)) return undefined;
  const data: unknown = fields[1];
  const seq = Number.parseInt(id, 10);
  return typeof data === "string" && Number.isSafeInteger(seq) ? { seq, data } : undefined;
}

function parseRequestId(rid: unknown): RequestId | undefined {
  if (typeof rid !== "string" || rid === "") return undefined;
  try {
    const value: unknown = JSON.parse(rid);
    return typeof value === "string" || typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

function ignore(): void {}
