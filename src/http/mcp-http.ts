import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity, ResourceServer } from "../auth/index.js";
import { type McpInterceptor, type McpServer, withInterceptors } from "../mcp/index.js";
import { createMemorySharedState } from "../sessions/memory.js";
import { MemoryEventLog } from "../sessions/memory-log.js";
import type { EventLogBounds, SharedState } from "../sessions/types.js";
import { createAdmission } from "./admission.js";
import { readMessage } from "./body.js";
import { type PostRoute, routePost } from "./classify.js";
import { createLegacySse } from "./legacy-sse.js";
import type { OriginPolicy } from "./origin.js";
import { header, sendJson } from "./reply.js";
import { countedRequest, createRequestGate } from "./request-gate.js";
import { createRequestLimiter, type RequestLimits } from "./request-limits.js";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./session-limits.js";
import { createSessionService } from "./session-service.js";
import { serveStateless } from "./stateless.js";
import { createStreamable } from "./streamable.js";
import type { McpTransport } from "./transport.js";

export type { McpTransport } from "./transport.js";

/** Options of {@link createMcpHttp}. */
export interface StreamableHttpOptions {
  readonly server: McpServer;
  /** Largest accepted request body in bytes. */
  readonly maxBodyBytes: number;
  /** Bearer-token validation; every request needs a valid token when set. */
  readonly auth?: ResourceServer;
  /** Host/Origin validation against DNS rebinding. */
  readonly origin?: OriginPolicy;
  readonly limits?: Partial<SessionLimits>;
  /**
   * Concurrency and rate per caller (token subject, else client address) and
   * per session, counted over the JSON-RPC requests POSTed (request-gate.ts);
   * a request over one is answered 429 with `Retry-After`. None by default.
   */
  readonly requestLimits?: RequestLimits;
  /** Path of the 2024-11-05 message endpoint, announced in the `endpoint` event. */
  readonly legacyMessagesPath?: string;
  /** Where sessions live (Redis for several replicas); in this process's memory by default. */
  readonly state?: SharedState;
  /**
   * Interceptors around the core's `handle` for each transport (metrics,
   * traces, request logs), built once per transport; none by default.
   */
  readonly intercept?: (transport: McpTransport) => readonly McpInterceptor[];
}

/** The HTTP handlers of the MCP endpoint and the 2024-11-05 HTTP+SSE endpoints. */
export interface McpHttp {
  /** Streamable HTTP (2025-03-26 and later, and 2026-07-28 stateless). */
  readonly streamable: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** 2024-11-05 `GET /sse`. */
  readonly sse: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** 2024-11-05 `POST /messages?sessionId=…`. */
  readonly messages: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Sessions (with a shared store: those with live state on this replica). */
  sessionCount(): number;
  /** SSE streams with a connection attached on this replica. */
  streamCount(): number;
  /** Bytes of events kept in this process for replay; undefined when a shared store keeps them. */
  replayBytes(): number | undefined;
  /**
   * Sends a notification to every session on its stream not tied to a request
   * (the GET stream, or the 2024-11-05 stream), e.g. `notifications/tools/list_changed`.
   */
  broadcast(method: string, params?: JsonObject): void;
  /**
   * Begins this replica's drain: the streams held here that it does not
   * produce (GET streams, streams resumed here) end with an SSE `retry` hint,
   * so their clients resume on another replica.
   */
  drain(): void;
  /** Requests of sessions running here, answered or not on a connection. */
  running(): number;
  /** Ends every session and stops timers. */
  close(): void;
}

/**
 * Serves MCP over HTTP on one endpoint for every revision:
 * - 2026-07-28 (stateless): each POST is self-contained, with version and
 *   client capabilities in `_meta` (basic/transports, basic/lifecycle);
 * - 2025-03-26 … 2025-11-25: sessions from `initialize`, `Mcp-Session-Id`,
 *   POST answered as JSON or SSE, the GET stream, DELETE, resumable streams
 *   (basic/transports "Streamable HTTP");
 * - 2024-11-05: `GET /sse` + `POST /messages` (HTTP+SSE transport).
 */
export function createMcpHttp(options: StreamableHttpOptions): McpHttp {
  const limits: SessionLimits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
  const { server, auth } = options;
  const state = options.state ?? createMemorySharedState({ bounds: eventLogBounds(limits) });
  const sessions = createSessionService({ state, limits });
  const admitted = createAdmission(options);
  const interceptorsOf = (transport: McpTransport) => options.intercept?.(transport) ?? [];
  const serverFor = (transport: McpTransport) => withInterceptors(server, interceptorsOf(transport));
  const limiter = options.requestLimits && createRequestLimiter(options.requestLimits);
  const gate = limiter && createRequestGate(limiter, interceptorsOf);
  const stateless = serverFor("stateless");
  const sessionEra = createStreamable({ server: serverFor("streamable"), auth, sessions });
  const legacy = createLegacySse({
    server: serverFor("legacy"),
    sessions,
    maxBodyBytes: options.maxBodyBytes,
    keepAliveMs: limits.keepAliveMs,
    messagesPath: options.legacyMessagesPath ?? "/messages",
    ...(gate ? { gate } : {}),
  });
  const knowsStateless = (method: string) => server.knows(method, "stateless");

  async function post(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const body = await readMessage(req, res, options.maxBodyBytes);
    if (body === undefined) return;
    const route = routePost({ header: (name) => header(req, name), body, knowsStateless });
    // Without limits, nothing more per request than this test.
    if (gate === undefined || !countedRequest(route)) return serve(route, req, res, identity);
    const ticket = gate.post(route, req, res, identity);
    if (ticket === undefined) return;
    try {
      // Held until the reply is finished: JSON, or the last event of an SSE reply.
      await serve(route, req, res, identity);
    } finally {
      ticket.release();
    }
  }

  function serve(
    route: PostRoute,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> | undefined {
    switch (route.kind) {
      case "reject":
        sendJson(res, route.status, route.response);
        return;
      case "accepted":
        res.writeHead(202).end();
        return;
      case "stateless":
        return serveStateless(stateless, auth, route, req, res, identity);
      case "initialize":
        return sessionEra.initialize(route.request, req, res, identity);
      case "session":
        return sessionEra.post(route, req, res, identity);
    }
  }

  async function streamable(req: IncomingMessage, res: ServerResponse, identity: Identity | undefined) {
    switch (req.method) {
      case "POST":
        return post(req, res, identity);
      case "GET":
        return sessionEra.get(req, res, identity);
      case "DELETE":
        return sessionEra.remove(req, res, identity);
      default:
        req.resume();
        res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
    }
  }

  return {
    streamable: admitted(streamable),
    sse: admitted(legacy.sse),
    messages: admitted(legacy.messages),
    sessionCount: () => sessions.count(),
    streamCount: () => sessions.streamCount(),
    replayBytes: () => (state.events instanceof MemoryEventLog ? state.events.keptBytes : undefined),
    drain: () => sessions.drain(),
    running: () => sessions.running(),
    broadcast(method, params = {}) {
      sessions.broadcast({ jsonrpc: "2.0", method, params });
    },
    close() {
      server.close();
      sessions.closeAll();
      // A state this endpoint made is its own to close; a given one belongs to its maker.
      if (!options.state) void state.close();
    },
  };
}

/** Bytes of events one stream keeps for replay. */
const STREAM_REPLAY_BYTES = 4 * 1024 * 1024;
/** Bytes of events one session keeps for replay, over all its streams. */
const SESSION_REPLAY_BYTES = 32 * 1024 * 1024;
/** Replayable streams kept per session; the oldest finished one goes first. */
const MAX_STREAMS_PER_SESSION = 16;

/** The replay bounds that follow from the session limits (docs/security.md "Limits"). */
export function eventLogBounds(limits: SessionLimits): EventLogBounds {
  return {
    maxEvents: limits.maxBufferedEvents,
    maxStreamBytes: STREAM_REPLAY_BYTES,
    maxSessionBytes: SESSION_REPLAY_BYTES,
    maxTotalBytes: limits.maxBufferedBytes,
    maxStreams: MAX_STREAMS_PER_SESSION,
    ttlMs: limits.idleTimeoutMs,
  };
}
