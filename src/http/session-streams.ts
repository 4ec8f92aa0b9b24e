import type { ServerResponse } from "node:http";
import { ErrorCode, failure, type RequestId } from "../mcp/index.js";
import type { Attachment, LiveSession, SessionContext } from "./live-session.js";
import { andThen, quietly, serial, settled, type Tail } from "./maybe-promise.js";
import { messageText } from "./message-text.js";
import { writeBatched } from "./sse.js";
import { eventId, SseConnection, sseFrame } from "./sse-connection.js";

/** Id of the standalone stream of a session (the GET stream). */
export const STANDALONE = "g";
/** How often a replica checks that the replica producing a stream it relays is alive (ms). */
const PRODUCER_CHECK_MS = 2_000;
/** The SSE `retry` a client is given: how soon to reconnect once a stream ends without its response (ms). */
const RECONNECT_MS = 1_000;

/** Where a request's answer goes when it is sent as SSE (see {@link Reply}). */
export interface ReplyStream {
  /** The first event is about to go out: attach the response as this stream's connection. */
  start(res: ServerResponse, extra: { readonly [k: string]: string }): void;
  send(message: unknown): void;
  /** The response: the last event of the stream. */
  finish(message: unknown): void;
  /** The stream ends without a response (the request was cancelled). */
  close(): void;
}

/** The resumable streams of the sessions, as this replica produces and relays them. */
export type SessionStreams = ReturnType<typeof createSessionStreams>;

/**
 * The SSE streams of sessions across replicas (MCP 2025-11-25 basic/transports
 * "Resumability and Redelivery"): each event is appended to the stream's log
 * by the replica producing it, in order (one chain of steps per stream), and
 * written to the connection attached to the stream wherever that is, once and
 * in order (events arriving during a replay queue behind it; one already
 * written is skipped by its sequence number).
 */
export function createSessionStreams(ctx: SessionContext) {
  const { events, bus, replicas } = ctx.state;
  const { me, tag, hold, release } = ctx;
  let streams = 0;

  /** The stream a session-era POST is answered on when it turns into SSE; its log stream opens with the first event. */
  function replyStream(live: LiveSession, requestId: RequestId): ReplyStream {
    streams += 1;
    const stream = `${tag}.${streams}`;
    const tails: Tail = { current: undefined };
    return {
      start(res, extra) {
        live.producing.add(stream);
        serial(tails, () => events.open(live.id, stream, { requestId, replica: me }));
        const prime = primeOf(live, stream, 0);
        attach(live, stream, res, extra, 0, prime);
      },
      send(message) {
        emit(live, stream, tails, messageText(message));
      },
      finish(message) {
        emit(live, stream, tails, messageText(message));
        this.close();
      },
      close() {
        serial(tails, () =>
          andThen(events.end(live.id, stream), () => {
            live.producing.delete(stream);
            quietly(bus.publish(live.id, { kind: "end", stream }));
            endAttachment(live, stream);
            release(live);
          }),
        );
      },
    };
  }

  /** Appends one message to a stream this replica produces and delivers it here and elsewhere. */
  function emit(live: LiveSession, stream: string, tails: Tail, data: string): void {
    serial(tails, () =>
      andThen(events.append(live.id, stream, data), (seq) => {
        if (seq === 0) {
          // The log no longer knows the stream: the event still reaches a connection here, without an id.
          live.attached.get(stream)?.conn?.write(`event: message\ndata: ${data}\n\n`);
          return;
        }
        deliver(live, stream, seq, data);
        quietly(bus.publish(live.id, { kind: "event", stream, seq, data }));
      }),
    );
  }

  /** A message not tied to a request: the standalone GET stream, or the 2024-11-05 stream. */
  function notify(live: LiveSession, message: unknown): void {
    const data = messageText(message);
    if (live.era === "legacy") {
      if (live.legacyRes) writeBatched(live.legacyRes, `event: message\ndata: ${data}\n\n`);
      else quietly(bus.publish(live.id, { kind: "notify", data }));
      return;
    }
    serial(live.standaloneTail, () => events.open(live.id, STANDALONE, { replica: me }));
    emit(live, STANDALONE, live.standaloneTail, data);
  }

  /** Writes an event to the connection attached here to its stream, in order and once. */
  function deliver(live: LiveSession, stream: string, seq: number, data: string): void {
    const a = live.attached.get(stream);
    if (!a) return;
    if (a.queue) {
      a.queue.push({ seq, data });
      return;
    }
    if (seq <= a.lastSeq) return;
    if (seq > a.lastSeq + 1 && a.conn) {
      // Events of several producers (or a lost bus message) arrived out of order: read them from the log.
      a.queue = [{ seq, data }];
      void catchUp(live, stream, a);
      return;
    }
    a.lastSeq = seq;
    a.conn?.write(sseFrame(stream, seq, data));
  }

  /** Re-reads a stream's events after the last one written, then goes on with what arrived meanwhile. */
  async function catchUp(live: LiveSession, stream: string, a: Attachment): Promise<void> {
    const found = await settled(events.replay(live.id, stream, a.lastSeq));
    flush(live, stream, a, found?.events ?? []);
  }

  /** Writes replayed events, then the queued ones after them, and leaves queueing. */
  function flush(
    live: LiveSession,
    stream: string,
    a: Attachment,
    replayed: readonly { seq: number; data: string }[],
  ): void {
    const queued = a.queue ?? [];
    a.queue = undefined;
    let ended = false;
    for (const e of [...replayed, ...queued]) {
      if (e === "end") ended = true;
      else if (e.seq > a.lastSeq) {
        a.lastSeq = e.seq;
        a.conn?.write(sseFrame(stream, e.seq, e.data));
      }
    }
    if (ended) endAttachment(live, stream);
  }

  /** Attaches a response here as the connection of a stream (ending any other, here or on another replica). */
  function attach(
    live: LiveSession,
    stream: string,
    res: ServerResponse,
    extra: { readonly [k: string]: string },
    afterSeq: number,
    prime: { id: string; retryMs: number } | undefined,
    queue?: Attachment["queue"],
  ): Attachment {
    const before = live.attached.get(stream);
    if (before) detach(live, stream, before, true);
    const a: Attachment = { conn: undefined, lastSeq: afterSeq, queue, watch: undefined };
    live.attached.set(stream, a);
    const options = { keepAliveMs: ctx.limits.keepAliveMs, ...(prime ? { prime } : {}) };
    a.conn = new SseConnection(res, extra, options, () => {
      if (live.attached.get(stream) === a) detach(live, stream, a, false);
    });
    hold(live);
    quietly(bus.publish(live.id, { kind: "attached", stream, by: me }));
    return a;
  }

  function detach(live: LiveSession, stream: string, a: Attachment, endIt: boolean): void {
    if (live.attached.get(stream) === a) live.attached.delete(stream);
    if (a.watch) clearInterval(a.watch);
    a.watch = undefined;
    if (endIt) a.conn?.end();
    release(live);
  }

  /** The stream ended: its connection here, if any, ends once what it has queued is written. */
  function endAttachment(live: LiveSession, stream: string): void {
    const a = live.attached.get(stream);
    if (!a) return;
    if (a.queue) a.queue.push("end");
    else detach(live, stream, a, true);
  }

  /**
   * Resumes a stream on this replica (MCP 2025-11-25 basic/transports
   * "Resumability and Redelivery"): the events after `afterSeq`, then the rest
   * as they come. False when the stream is not known (any more).
   */
  async function resume(
    live: LiveSession,
    stream: string,
    afterSeq: number,
    res: ServerResponse,
    extra: { readonly [k: string]: string },
  ): Promise<boolean> {
    const found = await events.replay(live.id, stream, afterSeq);
    if (!found || live.closed || res.destroyed) return false;
    // Events arriving from here on queue behind the replayed ones.
    const a = attach(live, stream, res, extra, afterSeq, undefined, []);
    flush(live, stream, a, found.events);
    if (found.done) {
      endAttachment(live, stream);
      return true;
    }
    if (found.requestId !== undefined && !live.producing.has(stream)) {
      // The request runs elsewhere (or ran here before this replica restarted): make sure it still does.
      const requestId = found.requestId;
      const check = async () => {
        const alive = found.replica !== me && (await settled(replicas.alive(found.replica, Date.now())));
        if (alive !== false || live.attached.get(stream) !== a) return;
        abandon(live, stream, requestId);
      };
      a.watch = setInterval(() => void check(), PRODUCER_CHECK_MS);
      a.watch.unref();
      void check();
    }
    return true;
  }

  /**
   * The replica producing a stream is gone before the response: the client
   * gets an error for its request telling it to send it again, never a hang.
   */
  function abandon(live: LiveSession, stream: string, requestId: RequestId): void {
    const text =
      "The gateway replica serving this request stopped before answering; the request may or may not have run. Send it again.";
    const response = failure(requestId, ErrorCode.InternalError, text, { retryable: true });
    const tails: Tail = { current: undefined };
    live.producing.add(stream);
    emit(live, stream, tails, messageText(response));
    serial(tails, () =>
      andThen(events.end(live.id, stream), () => {
        live.producing.delete(stream);
        quietly(bus.publish(live.id, { kind: "end", stream }));
        endAttachment(live, stream);
      }),
    );
  }

  /** The GET stream (basic/transports "Listening for Messages from the Server"); false when one is open here already. */
  async function listen(live: LiveSession, res: ServerResponse, extra: { readonly [k: string]: string }) {
    if (live.attached.has(STANDALONE)) return false;
    await events.open(live.id, STANDALONE, { replica: me });
    const found = await events.replay(live.id, STANDALONE, Number.MAX_SAFE_INTEGER);
    const lastSeq = found?.lastSeq ?? 0;
    attach(live, STANDALONE, res, extra, lastSeq, primeOf(live, STANDALONE, lastSeq));
    return true;
  }

  /** Priming events exist from 2025-11-25 on (basic/transports "Resumability and Redelivery"). */
  function primeOf(live: LiveSession, stream: string, seq: number) {
    return live.version >= "2025-11-25" ? { id: eventId(stream, seq), retryMs: RECONNECT_MS } : undefined;
  }

  /** The session is closed: every connection attached here ends, and no producer is checked on any more. */
  function endAll(live: LiveSession): void {
    for (const a of live.attached.values()) {
      if (a.watch) clearInterval(a.watch);
      a.conn?.end();
    }
    live.attached.clear();
  }

  /**
   * The replica is stopping (drain): every connection attached here to a
   * stream this replica does not produce — the GET stream, a stream resumed
   * here whose request runs elsewhere — ends with an SSE `retry` field, so the
   * client reconnects after a second (through the balancer, to another
   * replica) and resumes with Last-Event-ID (MCP 2025-11-25 basic/transports
   * "Resumability and Redelivery"). Streams of requests running here end with
   * their response.
   */
  function endRelayed(live: LiveSession): void {
    for (const [stream, a] of [...live.attached]) {
      if (live.producing.has(stream)) continue;
      a.conn?.end(`retry: ${RECONNECT_MS}\n\n`);
      detach(live, stream, a, false);
    }
  }

  return { replyStream, notify, deliver, detach, endAttachment, resume, listen, endAll, endRelayed };
}
