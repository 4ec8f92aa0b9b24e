import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import {
  ErrorCode,
  type Exchange,
  JsonRpcError,
  type JsonRpcRequest,
  type RequestId,
  type SessionHooks,
} from "../mcp/index.js";
import { EventStream, ReplayBudget, sseEvent } from "./sse.js";

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
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleTimeoutMs: 30 * 60_000,
  maxSessions: 10_000,
  maxBufferedEvents: 1_000,
  keepAliveMs: 15_000,
  clientRequestTimeoutMs: 5 * 60_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxSessionsPerClient: 1_000,
};

/** Bytes of events one session keeps for replay, over all its streams. */
const SESSION_REPLAY_BYTES = 32 * 1024 * 1024;
/** Replayable streams kept per session; the oldest finished one goes first. */
const MAX_STREAMS_PER_SESSION = 16;

interface Pending {
  resolve(result: JsonObject): void;
  reject(err: Error): void;
}

/** One MCP session (Streamable HTTP or 2024-11-05 HTTP+SSE). */
export interface Session {
  readonly id: string;
  readonly version: string;
  readonly legacy: boolean;
  clientCapabilities: JsonObject;
  /** Subject of the caller that created it; other callers cannot use it. */
  readonly subject: string | undefined;
  readonly hooks: SessionHooks;
  readonly streams: Map<string, EventStream>;
  standalone: EventStream | undefined;
  /** In-flight requests by id, for notifications/cancelled. */
  readonly inflight: Map<RequestId, AbortController>;
  /** Server-to-client requests awaiting an answer. */
  readonly pending: Map<RequestId, Pending>;
  /** The 2024-11-05 SSE connection. */
  legacyRes: ServerResponse | undefined;
  lastSeen: number;
  nextStream: number;
  nextRequest: number;
  /** The session's share of replay memory (its streams count against it and the gateway's). */
  readonly replay: ReplayBudget;
  /** Who holds it, for the per-client cap: the token's subject, else the client's address. */
  readonly owner: string;
}

/** The sessions of one gateway process and what they hold. */
export type SessionTable = ReturnType<typeof createSessionTable>;

/** Creates the session table: records, streams, in-flight requests and server-to-client requests. */
export function createSessionTable(limits: SessionLimits) {
  /** Replay memory of every session together. */
  const replayBudget = new ReplayBudget(limits.maxBufferedBytes);
  const sessions = new Map<string, Session>();
  const sweeper = setInterval(sweep, Math.min(60_000, Math.max(1_000, limits.idleTimeoutMs / 4)));
  sweeper.unref();

  function create(
    version: string,
    legacy: boolean,
    clientCapabilities: JsonObject,
    identity: Identity | undefined,
    owner: string,
  ): Session {
    const id = randomUUID();
    const session: Session = {
      id,
      version,
      legacy,
      clientCapabilities,
      subject: identity?.subject,
      hooks: {
        logLevel: "info",
        subscriptions: new Map(),
        notify: (method, params) => sendOnSession(session, { jsonrpc: "2.0", method, params }),
      },
      streams: new Map(),
      standalone: undefined,
      inflight: new Map(),
      pending: new Map(),
      legacyRes: undefined,
      lastSeen: Date.now(),
      nextStream: 0,
      nextRequest: 0,
      replay: new ReplayBudget(SESSION_REPLAY_BYTES),
      owner,
    };
    sessions.set(id, session);
    return session;
  }

  /** A message not tied to a request: the standalone GET stream (or the 2024-11-05 stream). */
  function sendOnSession(session: Session, message: unknown): void {
    if (session.legacy) {
      session.legacyRes?.write(sseEvent(message));
      return;
    }
    session.standalone?.send(message);
  }

  function openStream(session: Session): EventStream {
    session.nextStream += 1;
    const stream = new EventStream(`${session.nextStream}`, streamOptions(session));
    session.streams.set(stream.id, stream);
    // Bounded: only the most recent streams stay replayable.
    if (session.streams.size > MAX_STREAMS_PER_SESSION) {
      for (const [id, s] of session.streams) {
        if (s.done) {
          session.streams.delete(id);
          s.release();
          break;
        }
      }
    }
    return stream;
  }

  function standalone(session: Session): EventStream {
    session.standalone ??= new EventStream("g", streamOptions(session));
    return session.standalone;
  }

  function streamOptions(session: Session) {
    return {
      maxBuffered: limits.maxBufferedEvents,
      budgets: [session.replay, replayBudget],
      keepAliveMs: limits.keepAliveMs,
      retryMs: 1_000,
      prime: session.version >= "2025-11-25",
    };
  }

  /** The exchange of a session-era request; `canAsk` is false when nothing can reach the client mid-request. */
  function exchange(
    session: Session,
    signal: AbortSignal,
    identity: Identity | undefined,
    send: (message: unknown) => void,
    canAsk = true,
  ): Exchange {
    return {
      signal,
      ...(identity ? { identity } : {}),
      stateless: false,
      clientCapabilities: session.clientCapabilities,
      logLevel: session.hooks.logLevel,
      session: session.hooks,
      notify: (method, params) => send({ jsonrpc: "2.0", method, params }),
      ...(canAsk
        ? { request: (method, params, sig) => clientRequest(session, method, params, sig, send) }
        : {}),
    };
  }

  /** A server-to-client request on the stream of the request it serves (basic/transports). */
  function clientRequest(
    session: Session,
    method: string,
    params: JsonObject,
    signal: AbortSignal,
    send: (message: unknown) => void,
  ): Promise<JsonObject> {
    session.nextRequest += 1;
    const id = `mcpengine-${session.nextRequest}`;
    return new Promise<JsonObject>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        session.pending.delete(id);
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
      session.pending.set(id, {
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

  /** The client's answer to a server-to-client request. */
  function settle(
    session: Session,
    response: { id: RequestId; result?: JsonValue; error?: JsonValue },
  ): void {
    const waiter = session.pending.get(response.id);
    if (!waiter) return;
    if (response.error !== undefined) {
      const e = response.error as { code?: number; message?: string; data?: unknown };
      waiter.reject(
        new JsonRpcError(
          typeof e.code === "number" ? e.code : ErrorCode.InternalError,
          `The client answered with an error: ${e.message ?? "unknown"}`,
          e.data,
        ),
      );
    } else {
      const r = response.result;
      waiter.resolve(typeof r === "object" && r !== null && !Array.isArray(r) ? r : {});
    }
  }

  /** MCP 2025-11-25 basic/utilities/cancellation: the RPC behind the request is cancelled. */
  function notification(session: Session, message: JsonRpcRequest): void {
    if (message.method === "notifications/cancelled") {
      const id = message.params?.requestId;
      if (typeof id === "string" || typeof id === "number") {
        session.inflight.get(id)?.abort(new Error("cancelled by the client"));
      }
    }
  }

  function close(session: Session): void {
    sessions.delete(session.id);
    for (const a of session.inflight.values()) a.abort(new Error("session closed"));
    for (const a of session.hooks.subscriptions.values()) a.abort();
    for (const p of session.pending.values()) p.reject(new Error("session closed"));
    for (const s of session.streams.values()) {
      s.end();
      s.release();
    }
    session.standalone?.end();
    session.standalone?.release();
    if (session.legacyRes && !session.legacyRes.writableEnded) session.legacyRes.end();
  }

  function idle(session: Session, now: number): boolean {
    return (
      now - session.lastSeen > limits.idleTimeoutMs &&
      session.inflight.size === 0 &&
      !session.standalone?.live &&
      session.legacyRes === undefined
    );
  }

  function sweep(): void {
    const now = Date.now();
    for (const s of sessions.values()) if (idle(s, now)) close(s);
  }

  /**
   * Makes room for one more session of `owner`: past the per-client cap, that
   * client's least recently used idle session is closed (never another
   * client's); past the global cap, the least recently used idle one. A session
   * with a request in flight or an attached stream is never closed for room.
   */
  function makeRoom(owner: string): "ok" | "client" | "full" {
    let mine = 0;
    for (const s of sessions.values()) if (s.owner === owner) mine++;
    if (mine >= limits.maxSessionsPerClient && !evictIdle((s) => s.owner === owner)) return "client";
    if (sessions.size >= limits.maxSessions) {
      sweep();
      if (sessions.size >= limits.maxSessions && !evictIdle(() => true)) return "full";
    }
    return "ok";
  }

  function evictIdle(eligible: (s: Session) => boolean): boolean {
    let oldest: Session | undefined;
    for (const s of sessions.values()) {
      if (
        eligible(s) &&
        s.inflight.size === 0 &&
        !s.standalone?.live &&
        !s.legacyRes &&
        (!oldest || s.lastSeen < oldest.lastSeen)
      ) {
        oldest = s;
      }
    }
    if (oldest) close(oldest);
    return oldest !== undefined;
  }

  return {
    get: (id: string) => sessions.get(id),
    create,
    close,
    makeRoom,
    openStream,
    standalone,
    exchange,
    settle,
    notification,
    sendOnSession,
    count: () => sessions.size,
    broadcast(message: unknown): void {
      for (const s of sessions.values()) sendOnSession(s, message);
    },
    closeAll(): void {
      clearInterval(sweeper);
      for (const s of [...sessions.values()]) close(s);
    },
  };
}

/** The client a session counts against: the verified subject, else the peer address. */
export function ownerOf(req: IncomingMessage, identity: Identity | undefined): string {
  return identity ? `sub:${identity.subject}` : `addr:${req.socket.remoteAddress ?? "?"}`;
}

/** Whether the caller may use the session (the subject that created it, or anyone without auth). */
export function owns(session: Session, identity: Identity | undefined): boolean {
  return session.subject === undefined || session.subject === identity?.subject;
}
