import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import type { LogLevel } from "../invoke/index.js";
import {
  ErrorCode,
  failure,
  JsonRpcError,
  type JsonRpcRequest,
  type RequestId,
  type SessionExchange,
  type SessionHooks,
} from "../mcp/index.js";
import type { BusMessage, MaybePromise, SessionRecord, SharedState } from "../sessions/types.js";
import { RequestCancelled } from "./reply.js";
import { eventId, SseConnection, sseFrame } from "./sse-connection.js";

/** Limits and timings of sessions (session-era revisions and 2024-11-05). */
export interface SessionLimits {
  /** A session without traffic or open streams for this long is closed (ms). */
  readonly idleTimeoutMs: number;
  /** Most concurrent sessions; more are refused with 503. */
  readonly maxSessions: number;
  /** Events kept per stream for `Last-Event-ID` replay. */
  readonly maxBufferedEvents: number;
  /** Interval of SSE keep-alive comments (ms). */
  readonly keepAliveMs: number;
  /** Server-to-client requests fail after this long without an answer (ms). */
  readonly clientRequestTimeoutMs: number;
  /** Bytes of events kept for replay across all sessions; the oldest finished streams go first. */
  readonly maxBufferedBytes: number;
  /** Sessions one client may hold (its token's subject, else its address); its own idle ones go first. */
  readonly maxSessionsPerClient: number;
  /**
   * How long a replica's lease, and its hold on a busy session, last without
   * renewal (ms); renewed at a third of it. A replica silent for longer is gone.
   */
  readonly replicaLeaseMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleTimeoutMs: 30 * 60_000,
  maxSessions: 10_000,
  maxBufferedEvents: 1_000,
  keepAliveMs: 15_000,
  clientRequestTimeoutMs: 5 * 60_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxSessionsPerClient: 1_000,
  replicaLeaseMs: 15_000,
};

/** Id of the standalone stream of a session (the GET stream). */
const STANDALONE = "g";
/** How often a replica checks that the replica producing a stream it relays is alive (ms). */
const PRODUCER_CHECK_MS = 2_000;

interface Pending {
  resolve(result: JsonObject): void;
  reject(err: Error): void;
}

/** A connection attached on this replica to one stream of a session. */
interface Attachment {
  conn: SseConnection | undefined;
  /** The last event written to it. */
  lastSeq: number;
  /** Events (and the end) that arrived while it was being replayed. */
  queue: ({ seq: number; data: string } | "end")[] | undefined;
  /** Checks on a producer running on another replica. */
  watch: NodeJS.Timeout | undefined;
}

/**
 * What this replica holds of one session: everything bound to its sockets and
 * timers. The shared part is the {@link SessionRecord} in the store.
 */
export interface LiveSession {
  readonly id: string;
  readonly version: string;
  readonly era: SessionRecord["era"];
  readonly subject: string | undefined;
  clientCapabilities: JsonObject;
  logLevel: LogLevel | undefined;
  /** Requests running here, by id, for notifications/cancelled. */
  readonly inflight: Map<RequestId, AbortController>;
  /** Server-to-client requests asked from here, awaiting the client's answer. */
  readonly pending: Map<RequestId, Pending>;
  /** Resource watches running here: URI → abort. */
  readonly subscriptions: Map<string, AbortController>;
  /** Streams whose events this replica produces (requests answered as SSE). */
  readonly producing: Set<string>;
  /** Connections attached here, by stream. */
  readonly attached: Map<string, Attachment>;
  /** The 2024-11-05 SSE connection, when it is held here. */
  legacyRes: ServerResponse | undefined;
  readonly hooks: SessionHooks;
  /** Until when this replica holds the session busy in the store. */
  heldUntil: number;
  unsubscribe: (() => void) | undefined;
  closed: boolean;
}

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

/** The sessions as this replica serves them: shared records, logs and bus, plus live state. */
export type SessionService = ReturnType<typeof createSessionService>;

/** Options of {@link createSessionService}. */
export interface SessionServiceOptions {
  readonly state: SharedState;
  readonly limits: SessionLimits;
  /** This replica's id (random by default). */
  readonly replica?: string;
}

/**
 * Sessions of the session-era revisions over the shared state (MCP 2025-11-25
 * basic/transports "Session Management", "Resumability and Redelivery"): any
 * replica can serve any request of a session; what is bound to a socket stays
 * where the socket is, and the bus carries events, cancellations and client
 * answers to it.
 */
export function createSessionService(options: SessionServiceOptions) {
  const { state, limits } = options;
  const leaseMs = limits.replicaLeaseMs;
  const { sessions: store, events, bus, replicas } = state;
  const me = options.replica ?? randomUUID();
  /** Stream ids are unique per session across replicas: this replica's tag and a counter. */
  const tag = me.replace(/-/g, "").slice(0, 8);
  const local = new Map<string, LiveSession>();
  let streams = 0;
  let asked = 0;

  const sweeper = setInterval(sweep, Math.min(60_000, Math.max(1_000, limits.idleTimeoutMs / 4)));
  sweeper.unref();
  const renewer = setInterval(renew, leaseMs / 3);
  renewer.unref();
  quietly(replicas.renew(me, Date.now() + leaseMs));

  /** Creates a session within the bounds; the sessions evicted for room are closed. */
  async function create(
    era: SessionRecord["era"],
    version: string,
    clientCapabilities: JsonObject,
    identity: Identity | undefined,
    owner: string,
  ): Promise<{ ok: true; id: string } | { ok: false; reason: "client" | "full" }> {
    const now = Date.now();
    const record: SessionRecord = {
      id: randomUUID(),
      era,
      version,
      subject: identity?.subject,
      owner,
      clientCapabilities,
      logLevel: "info",
      lastSeen: now,
      busyUntil: 0,
    };
    const bounds = { maxSessions: limits.maxSessions, maxPerOwner: limits.maxSessionsPerClient };
    const created = await store.create(record, bounds, now);
    if (!created.ok) return created;
    for (const id of created.evicted) closed(id);
    return { ok: true, id: record.id };
  }

  /**
   * The live state of a session for a request of `identity`, its record read
   * (and its last use updated) in the store; undefined when there is no such
   * session for this caller.
   */
  function open(
    id: string,
    identity: Identity | undefined,
    era: SessionRecord["era"],
  ): MaybePromise<LiveSession | undefined> {
    return then(store.open(id, Date.now()), (record) => {
      if (!record || record.era !== era) return undefined;
      if (record.subject !== undefined && record.subject !== identity?.subject) return undefined;
      let live = local.get(id);
      if (live) {
        live.logLevel = record.logLevel as LogLevel | undefined;
        live.clientCapabilities = record.clientCapabilities;
        return live;
      }
      live = newLive(record);
      local.set(id, live);
      const fresh = live;
      return then(
        bus.subscribe(id, (m) => onBus(fresh, m)),
        (unsubscribe) => {
          if (fresh.closed) unsubscribe();
          else fresh.unsubscribe = unsubscribe;
          return fresh;
        },
      );
    });
  }

  function newLive(record: SessionRecord): LiveSession {
    const live: LiveSession = {
      id: record.id,
      version: record.version,
      era: record.era,
      subject: record.subject,
      clientCapabilities: record.clientCapabilities,
      logLevel: record.logLevel as LogLevel | undefined,
      inflight: new Map(),
      pending: new Map(),
      subscriptions: new Map(),
      producing: new Set(),
      attached: new Map(),
      legacyRes: undefined,
      heldUntil: 0,
      unsubscribe: undefined,
      closed: false,
      hooks: {
        get logLevel() {
          return live.logLevel;
        },
        setLogLevel(level) {
          live.logLevel = level;
          quietly(store.update(live.id, { logLevel: level }));
        },
        subscribe: (uri) => subscribe(live, uri),
        unsubscribe: (uri) => unsubscribe(live, uri),
        notify: (method, params) => notify(live, { jsonrpc: "2.0", method, params }),
      },
    };
    return live;
  }

  /** A message of another replica (or of this one) about a session live here. */
  function onBus(live: LiveSession, m: BusMessage): void {
    switch (m.kind) {
      case "event":
        if (!live.producing.has(m.stream)) deliver(live, m.stream, m.seq, m.data);
        return;
      case "end":
        if (!live.producing.has(m.stream)) endAttachment(live, m.stream);
        return;
      case "cancel":
        live.inflight.get(m.requestId)?.abort(new RequestCancelled(m.reason));
        return;
      case "answer":
        settleHere(live, m.id, m.response);
        return;
      case "notify":
        live.legacyRes?.write(`event: message\ndata: ${m.data}\n\n`);
        return;
      case "unsubscribe":
        if (m.by !== me) stopWatch(live, m.uri);
        return;
      case "attached": {
        if (m.by === me) return;
        const a = live.attached.get(m.stream);
        if (a) detach(live, m.stream, a, true);
        return;
      }
      case "closed":
        closeHere(live);
        return;
    }
  }

  /** Marks the session busy in the store while something is live here (never closed for room or idleness). */
  function hold(live: LiveSession): void {
    const now = Date.now();
    if (live.heldUntil - now > leaseMs / 2) return;
    live.heldUntil = now + leaseMs;
    quietly(store.hold(live.id, live.heldUntil));
  }

  /** Whether nothing bound to this replica is left for the session. */
  function idleHere(live: LiveSession): boolean {
    return live.inflight.size === 0 && live.attached.size === 0 && live.legacyRes === undefined;
  }

  /** Lets go of the session once nothing is live here: no hold, and no local state at all when unused. */
  function release(live: LiveSession): void {
    if (live.closed || !idleHere(live)) return;
    if (live.heldUntil > 0) {
      live.heldUntil = 0;
      quietly(store.hold(live.id, 0));
    }
    if (live.pending.size === 0 && live.subscriptions.size === 0 && live.producing.size === 0) {
      local.delete(live.id);
      live.unsubscribe?.();
      live.unsubscribe = undefined;
      live.closed = true;
    }
  }

  /** Runs a request of a session here: cancellable from any replica until it ends. */
  function begin(live: LiveSession, id: RequestId): AbortController {
    const abort = new AbortController();
    live.inflight.set(id, abort);
    hold(live);
    return abort;
  }

  function end(live: LiveSession, id: RequestId): void {
    live.inflight.delete(id);
    release(live);
  }

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
        emit(live, stream, tails, JSON.stringify(message));
      },
      finish(message) {
        emit(live, stream, tails, JSON.stringify(message));
        this.close();
      },
      close() {
        serial(tails, () =>
          then(events.end(live.id, stream), () => {
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
      then(events.append(live.id, stream, data), (seq) => {
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

  /** The standalone stream's tail per session: its appends stay in order. */
  const standaloneTails = new Map<string, Tail>();

  /** A message not tied to a request: the standalone GET stream, or the 2024-11-05 stream. */
  function notify(live: LiveSession, message: unknown): void {
    const data = JSON.stringify(message);
    if (live.era === "legacy") {
      if (live.legacyRes) live.legacyRes.write(`event: message\ndata: ${data}\n\n`);
      else quietly(bus.publish(live.id, { kind: "notify", data }));
      return;
    }
    let tails = standaloneTails.get(live.id);
    if (!tails) {
      tails = { current: undefined };
      standaloneTails.set(live.id, tails);
    }
    serial(tails, () => events.open(live.id, STANDALONE, { replica: me }));
    emit(live, STANDALONE, tails, data);
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
    const options = { keepAliveMs: limits.keepAliveMs, ...(prime ? { prime } : {}) };
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
    emit(live, stream, tails, JSON.stringify(response));
    serial(tails, () =>
      then(events.end(live.id, stream), () => {
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
    return live.version >= "2025-11-25" ? { id: eventId(stream, seq), retryMs: 1_000 } : undefined;
  }

  /** The exchange of a session-era request; `canAsk` is false when nothing can reach the client mid-request. */
  function exchange(
    live: LiveSession,
    signal: AbortSignal,
    identity: Identity | undefined,
    send: (message: unknown) => void,
    canAsk = true,
  ): SessionExchange {
    return {
      signal,
      ...(identity ? { identity } : {}),
      era: "session",
      clientCapabilities: live.clientCapabilities,
      logLevel: live.logLevel,
      session: live.hooks,
      notify: (method, params) => send({ jsonrpc: "2.0", method, params }),
      ...(canAsk ? { request: (method, params, sig) => ask(live, method, params, sig, send) } : {}),
    };
  }

  /** A server-to-client request on the stream of the request it serves (basic/transports). */
  function ask(
    live: LiveSession,
    method: string,
    params: JsonObject,
    signal: AbortSignal,
    send: (message: unknown) => void,
  ): Promise<JsonObject> {
    asked += 1;
    // Unique across replicas, so an answer arriving at another replica finds its way back.
    const id = `mcpengine-${tag}-${asked}`;
    return new Promise<JsonObject>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        live.pending.delete(id);
      };
      const timer = setTimeout(() => {
        done();
        reject(new JsonRpcError(ErrorCode.InternalError, `The client did not answer ${method} in time`));
      }, limits.clientRequestTimeoutMs);
      timer.unref();
      const onAbort = () => {
        done();
        reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      live.pending.set(id, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** The client's answer to a server-to-client request, for whichever replica asked it. */
  function settle(
    live: LiveSession,
    response: { id: RequestId; result?: JsonValue; error?: JsonValue },
  ): void {
    const answer: JsonObject =
      response.error !== undefined ? { error: response.error } : { result: response.result ?? {} };
    if (live.pending.has(response.id)) settleHere(live, response.id, answer);
    else quietly(bus.publish(live.id, { kind: "answer", id: response.id, response: answer }));
  }

  function settleHere(live: LiveSession, id: RequestId, answer: JsonObject): void {
    const waiter = live.pending.get(id);
    if (!waiter) return;
    if (answer.error !== undefined) {
      const e = answer.error as { code?: number; message?: string; data?: unknown };
      waiter.reject(
        new JsonRpcError(
          typeof e.code === "number" ? e.code : ErrorCode.InternalError,
          `The client answered with an error: ${e.message ?? "unknown"}`,
          e.data,
        ),
      );
    } else {
      const r = answer.result;
      waiter.resolve(typeof r === "object" && r !== null && !Array.isArray(r) ? r : {});
    }
  }

  /**
   * MCP 2025-11-25 basic/utilities/cancellation: the RPC behind the request is
   * cancelled, wherever it runs, and the request gets no response.
   */
  function notification(live: LiveSession, message: JsonRpcRequest): void {
    if (message.method !== "notifications/cancelled") return;
    const id = message.params?.requestId;
    if (typeof id !== "string" && typeof id !== "number") return;
    const reason = typeof message.params?.reason === "string" ? message.params.reason : "";
    const here = live.inflight.get(id);
    if (here) here.abort(new RequestCancelled(reason));
    else quietly(bus.publish(live.id, { kind: "cancel", requestId: id, reason }));
  }

  /**
   * Starts a resource watch of the session here, ending its other watch of the
   * same URI wherever that runs (MCP 2025-11-25 server/resources "Subscriptions").
   */
  function subscribe(live: LiveSession, uri: string): { signal: AbortSignal; end(): void } {
    unsubscribe(live, uri);
    const abort = new AbortController();
    live.subscriptions.set(uri, abort);
    return {
      signal: abort.signal,
      end: () => {
        if (live.subscriptions.get(uri) !== abort) return;
        live.subscriptions.delete(uri);
        release(live);
      },
    };
  }

  /** Ends the session's watch of a resource, here or on the replica running it. */
  function unsubscribe(live: LiveSession, uri: string): void {
    stopWatch(live, uri);
    quietly(bus.publish(live.id, { kind: "unsubscribe", uri, by: me }));
  }

  function stopWatch(live: LiveSession, uri: string): void {
    const abort = live.subscriptions.get(uri);
    if (!abort) return;
    live.subscriptions.delete(uri);
    abort.abort();
    release(live);
  }

  /** The client's capabilities, sent in a 2024-11-05 `initialize` after its session began. */
  function setCapabilities(live: LiveSession, clientCapabilities: JsonObject): void {
    live.clientCapabilities = clientCapabilities;
    quietly(store.update(live.id, { clientCapabilities }));
  }

  /** Holds a 2024-11-05 session's SSE connection here; the session ends with it. */
  function holdLegacy(live: LiveSession, res: ServerResponse): void {
    live.legacyRes = res;
    hold(live);
  }

  /** Ends a session everywhere (DELETE, or its 2024-11-05 stream closed). */
  async function close(id: string): Promise<void> {
    await store.delete(id);
    closed(id);
  }

  /** A session that no longer exists in the store: its logs go, and every replica drops its live state. */
  function closed(id: string): void {
    quietly(events.drop(id));
    quietly(bus.publish(id, { kind: "closed" }));
    const live = local.get(id);
    if (live) closeHere(live);
  }

  function closeHere(live: LiveSession): void {
    if (local.get(live.id) === live) local.delete(live.id);
    standaloneTails.delete(live.id);
    live.closed = true;
    live.unsubscribe?.();
    live.unsubscribe = undefined;
    for (const a of live.inflight.values()) a.abort(new Error("session closed"));
    for (const a of live.subscriptions.values()) a.abort();
    for (const p of live.pending.values()) p.reject(new Error("session closed"));
    for (const a of live.attached.values()) {
      if (a.watch) clearInterval(a.watch);
      a.conn?.end();
    }
    live.attached.clear();
    if (live.legacyRes && !live.legacyRes.writableEnded) live.legacyRes.end();
  }

  /** Closes the sessions idle past the timeout (the store decides, for every replica). */
  function sweep(): void {
    void settled(store.sweep(Date.now(), limits.idleTimeoutMs)).then((ids) => {
      for (const id of ids ?? []) closed(id);
    });
  }

  /** Renews this replica's lease and its holds on the sessions busy here. */
  function renew(): void {
    const now = Date.now();
    quietly(replicas.renew(me, now + leaseMs));
    for (const live of local.values()) if (!idleHere(live)) hold(live);
  }

  return {
    replica: me,
    create,
    open,
    begin,
    end,
    replyStream,
    resume,
    listen,
    exchange,
    settle,
    notification,
    notify,
    setCapabilities,
    holdLegacy,
    close,
    /** Sessions: all of them in memory, the ones live here with a shared store. */
    count(): number {
      const n = store.count();
      return typeof n === "number" ? n : local.size;
    },
    /** A notification to every session on its stream not tied to a request, where that stream is held here. */
    broadcast(message: unknown): void {
      for (const live of local.values()) {
        if (live.attached.has(STANDALONE) || live.legacyRes) notify(live, message);
      }
    },
    /** Stops this replica: its live state ends; the sessions stay in the store for the other replicas. */
    closeAll(): void {
      clearInterval(sweeper);
      clearInterval(renewer);
      for (const live of [...local.values()]) closeHere(live);
      quietly(replicas.retire(me));
    },
  };
}

/** The client a session counts against: the verified subject, else the peer address. */
export function ownerOf(req: IncomingMessage, identity: Identity | undefined): string {
  return identity ? `sub:${identity.subject}` : `addr:${req.socket.remoteAddress ?? "?"}`;
}

/** The tail of a chain of steps that must run in order (appends to one stream). */
interface Tail {
  current: Promise<void> | undefined;
}

/**
 * Runs `step` after the steps queued before it: at once when nothing is
 * pending and it completes synchronously (the in-memory case), else chained.
 * A failing step does not stop the next.
 */
function serial(tail: Tail, step: () => MaybePromise<unknown>): void {
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

/** Applies `f` at once to a value, or when a promise of it resolves. */
function then<T, U>(v: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** The value, or undefined when the shared state failed. */
async function settled<T>(v: MaybePromise<T>): Promise<T | undefined> {
  try {
    return await v;
  } catch {
    return undefined;
  }
}

/** Fire and forget: a failure of the shared state here is not the request's failure. */
function quietly(v: MaybePromise<unknown>): void {
  if (v instanceof Promise) v.catch(noop);
}

function noop(): void {}
