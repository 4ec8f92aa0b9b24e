import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import type { LogLevel } from "../invoke/index.js";
import type { BusMessage, MaybePromise, SessionRecord, SharedState } from "../sessions/types.js";
import { createClientRequests } from "./client-requests.js";
import type { LiveSession, SessionContext } from "./live-session.js";
import { andThen, quietly, settled } from "./maybe-promise.js";
import { RequestCancelled } from "./reply.js";
import type { SessionLimits } from "./session-limits.js";
import { createSessionRequests } from "./session-requests.js";
import { createSessionStreams, STANDALONE } from "./session-streams.js";
import { createSessionWatches } from "./session-watches.js";

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
 * answers to it. Its parts: streams (session-streams.ts), the client's requests
 * (session-requests.ts), server-to-client requests (client-requests.ts) and
 * resource watches (session-watches.ts).
 */
export function createSessionService(options: SessionServiceOptions) {
  const { state, limits } = options;
  const leaseMs = limits.replicaLeaseMs;
  /** How long the live state of a session unused here is kept (see `drop`). */
  const lingerMs = Math.max(leaseMs, 30_000);
  const { sessions: store, events, bus, replicas } = state;
  const me = options.replica ?? randomUUID();
  /** Stream ids are unique per session across replicas: this replica's tag and a counter. */
  const tag = me.replace(/-/g, "").slice(0, 8);
  const local = new Map<string, LiveSession>();
  const ctx: SessionContext = { state, limits, me, tag, hold, release };
  const streams = createSessionStreams(ctx);
  const clientRequests = createClientRequests(ctx);
  const watches = createSessionWatches(ctx);
  const requests = createSessionRequests(ctx, clientRequests);

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
    return andThen(store.open(id, Date.now()), (record) => {
      if (!record || record.era !== era) return undefined;
      if (record.subject !== undefined && record.subject !== identity?.subject) return undefined;
      let live = local.get(id);
      if (live) {
        live.lastUsed = Date.now();
        live.logLevel = record.logLevel as LogLevel | undefined;
        live.clientCapabilities = record.clientCapabilities;
        return live;
      }
      live = newLive(record);
      local.set(id, live);
      const fresh = live;
      return andThen(
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
      lastUsed: Date.now(),
      standaloneTail: { current: undefined },
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
        subscribe: (uri) => watches.subscribe(live, uri),
        unsubscribe: (uri) => watches.unsubscribe(live, uri),
        notify: (method, params) => streams.notify(live, { jsonrpc: "2.0", method, params }),
      },
    };
    return live;
  }

  /** A message of another replica (or of this one) about a session live here. */
  function onBus(live: LiveSession, m: BusMessage): void {
    switch (m.kind) {
      case "event":
        if (!live.producing.has(m.stream)) streams.deliver(live, m.stream, m.seq, m.data);
        return;
      case "end":
        if (!live.producing.has(m.stream)) streams.endAttachment(live, m.stream);
        return;
      case "cancel":
        live.inflight.get(m.requestId)?.abort(new RequestCancelled(m.reason));
        return;
      case "answer":
        clientRequests.settleHere(live, m.id, m.response);
        return;
      case "notify":
        live.legacyRes?.write(`event: message\ndata: ${m.data}\n\n`);
        return;
      case "unsubscribe":
        if (m.by !== me) watches.stop(live, m.uri);
        return;
      case "attached": {
        if (m.by === me) return;
        const a = live.attached.get(m.stream);
        if (a) streams.detach(live, m.stream, a, true);
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

  /**
   * Lets go of the session's hold once nothing is live here. In memory at
   * once; with a shared store at the next renewal, so a client sending request
   * after request does not cost two store writes each (its session then counts
   * as busy for up to a third of the lease after its last request).
   */
  function release(live: LiveSession): void {
    if (live.closed || !idleHere(live)) return;
    const now = Date.now();
    if (now - live.lastUsed > limits.idleTimeoutMs / 4) {
      // The end of a long call (or stream) is the session's last activity, not its start: else a
      // call longer than the idle timeout would see its session closed as idle right after.
      live.lastUsed = now;
      quietly(store.open(live.id, now));
    }
    if (live.heldUntil === 0 || state.kind !== "memory") return;
    live.heldUntil = 0;
    quietly(store.hold(live.id, 0));
  }

  /** Nothing of the session is left here: no request, connection, waiting question, watch or stream. */
  function unused(live: LiveSession): boolean {
    return (
      idleHere(live) && live.pending.size === 0 && live.subscriptions.size === 0 && live.producing.size === 0
    );
  }

  /**
   * Drops the live state of a session unused here for a while (its bus
   * subscription included). It lingers first: re-subscribing for every
   * request of a busy session would cost a round trip to the store each time.
   */
  function drop(live: LiveSession): void {
    local.delete(live.id);
    live.unsubscribe?.();
    live.unsubscribe = undefined;
    live.closed = true;
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
    live.closed = true;
    live.unsubscribe?.();
    live.unsubscribe = undefined;
    for (const a of live.inflight.values()) a.abort(new Error("session closed"));
    for (const a of live.subscriptions.values()) a.abort();
    for (const p of live.pending.values()) p.reject(new Error("session closed"));
    streams.endAll(live);
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
    for (const live of [...local.values()]) {
      if (!idleHere(live)) hold(live);
      else if (live.heldUntil > 0) {
        live.heldUntil = 0;
        quietly(store.hold(live.id, 0));
      }
      if (unused(live) && now - live.lastUsed >= lingerMs) drop(live);
    }
  }

  return {
    replica: me,
    create,
    open,
    begin: requests.begin,
    end: requests.end,
    replyStream: streams.replyStream,
    resume: streams.resume,
    listen: streams.listen,
    exchange: requests.exchange,
    settle: clientRequests.settle,
    notification: requests.notification,
    notify: streams.notify,
    setCapabilities,
    holdLegacy,
    close,
    /** Sessions: all of them in memory, the ones live here with a shared store. */
    count(): number {
      const n = store.count();
      return typeof n === "number" ? n : local.size;
    },
    /** SSE streams with a connection attached here (a 2024-11-05 stream counts as one). */
    streamCount(): number {
      let n = 0;
      for (const live of local.values()) {
        for (const a of live.attached.values()) if (a.conn) n++;
        if (live.legacyRes) n++;
      }
      return n;
    },
    /** A notification to every session on its stream not tied to a request, where that stream is held here. */
    broadcast(message: unknown): void {
      for (const live of local.values()) {
        if (live.attached.has(STANDALONE) || live.legacyRes) streams.notify(live, message);
      }
    },
    /** Drain: the streams held here that this replica does not produce end with a `retry` hint (see endRelayed). */
    drain(): void {
      for (const live of [...local.values()]) streams.endRelayed(live);
    },
    /** Requests of sessions running on this replica. */
    running(): number {
      let n = 0;
      for (const live of local.values()) n += live.inflight.size;
      return n;
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
