import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { AuthFailure, AuthResult, Identity, ResourceServer } from "../auth/index.js";
import type { LogLevel } from "../invoke/index.js";
import { LOG_LEVELS } from "../invoke/index.js";
import {
  classify,
  decodeHeaderValue,
  ErrorCode,
  type Exchange,
  failure,
  InsufficientScopeError,
  isStatelessVersion,
  isSupportedVersion,
  JsonRpcError,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpErrorCode,
  type McpServer,
  type RequestId,
  type SessionHooks,
  STATELESS_VERSIONS,
} from "../mcp/index.js";
import { readBody } from "./body.js";
import type { OriginPolicy } from "./origin.js";
import { EventStream, ReplayBudget, SSE_HEADERS, sseEvent } from "./sse.js";

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
  /** Path of the 2024-11-05 message endpoint, announced in the `endpoint` event. */
  readonly legacyMessagesPath?: string;
}

/** The HTTP handlers of the MCP endpoint and the 2024-11-05 HTTP+SSE endpoints. */
export interface McpHttp {
  /** Streamable HTTP (2025-03-26 and later, and 2026-07-28 stateless). */
  readonly streamable: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** 2024-11-05 `GET /sse`. */
  readonly sse: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** 2024-11-05 `POST /messages?sessionId=…`. */
  readonly messages: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Live sessions. */
  sessionCount(): number;
  /**
   * Sends a notification to every session on its stream not tied to a request
   * (the GET stream, or the 2024-11-05 stream), e.g. `notifications/tools/list_changed`.
   */
  broadcast(method: string, params?: JsonObject): void;
  /** Ends every session and stops timers. */
  close(): void;
}

interface Pending {
  resolve(result: JsonObject): void;
  reject(err: Error): void;
}

/** One MCP session (Streamable HTTP or 2024-11-05 HTTP+SSE). */
interface Session {
  readonly id: string;
  readonly version: string;
  readonly legacy: boolean;
  readonly clientCapabilities: JsonObject;
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

const JSON_HEADERS = { "content-type": "application/json" } as const;
/** Replayable streams kept per session; the oldest finished one goes first. */
const MAX_STREAMS_PER_SESSION = 16;
const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";
/** The param a method's Mcp-Name header mirrors (MCP 2026-07-28 basic/transports "Request Headers"). */
const NAMED: { readonly [method: string]: string } = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

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
  /** Replay memory of every session together. */
  const replayBudget = new ReplayBudget(limits.maxBufferedBytes);
  const sessions = new Map<string, Session>();
  const sweeper = setInterval(sweep, Math.min(60_000, Math.max(1_000, limits.idleTimeoutMs / 4)));
  sweeper.unref();

  const ANONYMOUS: { identity?: Identity } = Object.freeze({});

  /**
   * Origin check and authentication common to every endpoint; undefined when
   * already answered. Synchronous without auth and for a token verified before,
   * so the hot path skips a microtask.
   */
  function admit(
    req: IncomingMessage,
    res: ServerResponse,
  ): { identity?: Identity } | undefined | Promise<{ identity?: Identity } | undefined> {
    const duplicate = duplicatedHeader(req);
    if (duplicate) {
      // Two Host or Authorization headers: which one a proxy in front acted on is unknowable (RFC 9112 §3.2).
      sendJson(
        res,
        400,
        failure(null, ErrorCode.InvalidRequest, `Bad Request: more than one ${duplicate} header`),
        true,
      );
      return undefined;
    }
    const refusal = options.origin?.check(req);
    if (refusal) {
      req.resume();
      sendJson(res, 403, failure(null, ErrorCode.InvalidRequest, `Forbidden: ${refusal}`));
      return undefined;
    }
    if (!options.auth) return ANONYMOUS;
    const result = options.auth.authenticate(req.headers.authorization);
    return result instanceof Promise ? result.then((r) => admitted(req, res, r)) : admitted(req, res, result);
  }

  /** The caller's identity, or undefined once a failed authentication has been answered. */
  function admitted(
    req: IncomingMessage,
    res: ServerResponse,
    result: AuthResult,
  ): { identity?: Identity } | undefined {
    if (!result.ok) {
      // A caller we refuse does not get its large body read: answer and close the connection.
      const close = hasLargeBody(req);
      if (!close) req.resume();
      refuse(res, result, close);
      return undefined;
    }
    return { identity: result.identity };
  }

  /** Reads and parses a JSON-RPC body; undefined when already answered. */
  async function readMessage(req: IncomingMessage, res: ServerResponse): Promise<unknown | undefined> {
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(contentType)) {
      req.resume();
      sendJson(res, 415, failure(null, ErrorCode.InvalidRequest, "Content-Type must be application/json"));
      return undefined;
    }
    const body = await readBody(req, options.maxBodyBytes);
    if (!body.ok) {
      if (body.reason === "too_large") {
        const msg = `Request body exceeds ${options.maxBodyBytes} bytes`;
        sendJson(res, 413, failure(null, ErrorCode.InvalidRequest, msg), true);
      }
      return undefined;
    }
    try {
      return JSON.parse(body.body.toString("utf8"));
    } catch {
      sendJson(res, 400, failure(null, ErrorCode.ParseError, "Parse error: the body is not valid JSON"));
      return undefined;
    }
  }

  /** An endpoint behind {@link admit}: the handler runs once the caller is admitted, with its identity. */
  function guarded(
    handler: (req: IncomingMessage, res: ServerResponse, identity: Identity | undefined) => Promise<void>,
  ): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return async (req, res) => {
      const gate = admit(req, res);
      const caller = gate instanceof Promise ? await gate : gate;
      if (caller) return handler(req, res, caller.identity);
    };
  }

  async function streamable(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    switch (req.method) {
      case "POST":
        return post(req, res, identity);
      case "GET":
        return get(req, res, identity);
      case "DELETE":
        return remove(req, res, identity);
      default:
        req.resume();
        res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
    }
  }

  async function post(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const headerVersion = header(req, "mcp-protocol-version");
    if (headerVersion !== undefined && !isSupportedVersion(headerVersion) && !hasSession(req)) {
      // Checked again against the body for stateless requests; refuse early for the rest.
      const parsed = await readMessage(req, res);
      if (parsed === undefined) return;
      const msg = classify(parsed);
      const id = msg.kind === "request" ? msg.message.id : null;
      return sendJson(res, 400, unsupportedVersion(id, headerVersion));
    }
    const parsed = await readMessage(req, res);
    if (parsed === undefined) return;
    if (Array.isArray(parsed)) {
      return sendJson(
        res,
        400,
        failure(null, ErrorCode.InvalidRequest, "JSON-RPC batches are not supported"),
      );
    }
    const msg = classify(parsed);
    if (msg.kind === "invalid") {
      return sendJson(res, 400, failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`));
    }

    const sessionId = header(req, "mcp-session-id");
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session || session.legacy || !owns(session, identity)) {
        return sendJson(res, 404, failure(idOf(msg), ErrorCode.InvalidRequest, "Session not found"));
      }
      if (headerVersion !== undefined && headerVersion !== session.version) {
        const text = `MCP-Protocol-Version ${headerVersion} differs from the session's ${session.version}`;
        return sendJson(res, 400, failure(idOf(msg), ErrorCode.InvalidRequest, text));
      }
      session.lastSeen = Date.now();
      return sessionMessage(session, msg, req, res, identity);
    }
    const meta = (
      msg.kind === "request" || msg.kind === "notification" ? msg.message.params?._meta : undefined
    ) as JsonObject | undefined;
    if (isStatelessVersion(headerVersion) || (meta && typeof meta === "object" && META_VERSION in meta)) {
      return stateless(msg, req, res, identity, headerVersion);
    }
    if (msg.kind === "request" && msg.message.method === "initialize") {
      return initialize(msg.message, req, res, identity);
    }
    if (msg.kind !== "request") {
      res.writeHead(202).end();
      return;
    }
    return sendJson(
      res,
      400,
      failure(
        msg.message.id,
        ErrorCode.InvalidRequest,
        "Bad Request: send initialize first (Mcp-Session-Id missing), or use protocol version 2026-07-28 with _meta",
      ),
    );
  }

  /**
   * A 2026-07-28 request (basic/transports "Streamable HTTP"; basic/lifecycle):
   * `_meta` must carry the protocol version and client capabilities, the
   * MCP-Protocol-Version, Mcp-Method and Mcp-Name headers must agree with the
   * body, and unknown methods are 404.
   */
  async function stateless(
    msg: ReturnType<typeof classify>,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
    headerVersion: string | undefined,
  ): Promise<void> {
    if (msg.kind === "response" || msg.kind === "invalid") {
      res.writeHead(202).end();
      return;
    }
    const request = msg.message;
    const id = msg.kind === "request" ? msg.message.id : null;
    const params = (request.params ?? {}) as JsonObject;
    const meta = params._meta as JsonObject | undefined;
    const bad = (status: number, code: number, text: string, data?: unknown) =>
      sendJson(res, status, failure(id, code, text, data));
    if (!meta || typeof meta !== "object" || Array.isArray(meta)) {
      return bad(
        400,
        ErrorCode.InvalidParams,
        "params._meta is required (protocol version and client capabilities)",
      );
    }
    const version = meta[META_VERSION];
    const capabilities = meta[META_CAPABILITIES];
    if (typeof version !== "string")
      return bad(400, ErrorCode.InvalidParams, `_meta.${META_VERSION} is required`);
    if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
      return bad(400, ErrorCode.InvalidParams, `_meta.${META_CAPABILITIES} must be an object`);
    }
    if (headerVersion === undefined) {
      return bad(400, McpErrorCode.HeaderMismatch, "The MCP-Protocol-Version header is required");
    }
    if (headerVersion !== version) {
      return bad(
        400,
        McpErrorCode.HeaderMismatch,
        `MCP-Protocol-Version ${headerVersion} differs from _meta ${version}`,
      );
    }
    if (!isStatelessVersion(version)) return sendJson(res, 400, unsupportedVersion(id, version));
    const methodHeader = header(req, "mcp-method")?.trim();
    if (methodHeader !== request.method) {
      const text =
        methodHeader === undefined
          ? "The Mcp-Method header is required"
          : `Mcp-Method ${methodHeader} differs from the body's ${request.method}`;
      return bad(400, McpErrorCode.HeaderMismatch, text);
    }
    const name = NAMED[request.method] === undefined ? undefined : params[NAMED[request.method] as string];
    if (typeof name === "string") {
      const raw = header(req, "mcp-name");
      const nameHeader = raw === undefined ? undefined : decodeHeaderValue(raw);
      if (nameHeader !== name) {
        const text =
          nameHeader === undefined
            ? "The Mcp-Name header is required"
            : `Mcp-Name ${nameHeader} differs from the body`;
        return bad(400, McpErrorCode.HeaderMismatch, text);
      }
    }
    if (msg.kind === "notification") {
      res.writeHead(202).end();
      return;
    }
    if (!options.server.knows(request.method, true)) {
      return bad(404, ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    }
    const level = meta[META_LOG_LEVEL];
    const reply = new Reply(res, acceptsSse(req), {});
    const ex: Exchange = {
      signal: connectionSignal(req.socket),
      ...(identity ? { identity } : {}),
      stateless: true,
      clientCapabilities: capabilities as JsonObject,
      logLevel: (LOG_LEVELS as readonly string[]).includes(level as string) ? (level as LogLevel) : undefined,
      header: (name) => header(req, name),
      notify: (method, p) => reply.send({ jsonrpc: "2.0", method, params: p }),
    };
    await answer(reply, msg.message as JsonRpcRequest & { id: RequestId }, ex, true);
  }

  /** Runs a request and answers it; scope failures become 403 challenges when nothing was sent yet. */
  async function answer(
    reply: Reply,
    request: JsonRpcRequest & { id: RequestId },
    ex: Exchange,
    statelessErrors: boolean,
  ): Promise<void> {
    let response: JsonRpcResponse;
    try {
      response = await options.server.handle(request, ex);
    } catch (err) {
      if (err instanceof InsufficientScopeError && options.auth && !reply.started) {
        refuse(reply.res, options.auth.insufficientScope(err.required));
        return;
      }
      response = failure(request.id, ErrorCode.InternalError, "Internal error");
    }
    const status = statelessErrors && "error" in response ? statelessStatus(response.error.code) : 200;
    reply.finish(response, status);
  }

  /** MCP 2025-11-25 basic/lifecycle "Initialization": creates the session. */
  async function initialize(
    request: JsonRpcRequest & { id: RequestId },
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const owner = ownerOf(req, identity);
    const room = makeRoom(owner);
    if (room !== "ok") {
      return sendJson(
        res,
        room === "client" ? 429 : 503,
        failure(
          request.id,
          ErrorCode.InternalError,
          room === "client"
            ? "Too many sessions for this client; close one (DELETE) or try again later"
            : "Too many sessions; try again later",
        ),
      );
    }
    const params = (request.params ?? {}) as JsonObject;
    const response = await options.server.handle(request, {
      signal: new AbortController().signal,
      ...(identity ? { identity } : {}),
      stateless: false,
      clientCapabilities: {},
      logLevel: undefined,
      notify: () => {},
    });
    if ("error" in response) return sendJson(res, 400, response);
    const version = String((response.result as JsonObject).protocolVersion);
    const session = newSession(version, false, capabilitiesOf(params.capabilities), identity, owner);
    res.writeHead(200, { ...JSON_HEADERS, "mcp-session-id": session.id }).end(JSON.stringify(response));
    req.resume();
  }

  function newSession(
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

  async function sessionMessage(
    session: Session,
    msg: ReturnType<typeof classify>,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    switch (msg.kind) {
      case "invalid":
        return sendJson(
          res,
          400,
          failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`),
        );
      case "response":
        settle(session, msg);
        res.writeHead(202).end();
        return;
      case "notification":
        notification(session, msg.message);
        res.writeHead(202).end();
        return;
      case "request": {
        const request = msg.message;
        const stream = session.legacy ? undefined : openStream(session);
        const reply = new Reply(res, acceptsSse(req), { "mcp-session-id": session.id }, stream);
        const abort = new AbortController();
        session.inflight.set(request.id, abort);
        res.on("close", () => {
          // A JSON reply cannot be resumed: the caller is gone, so stop the work.
          if (!reply.started && !res.writableFinished) abort.abort(new Error("client disconnected"));
        });
        try {
          await answer(
            reply,
            request,
            // A client that does not accept SSE on this POST cannot receive requests before the result.
            sessionExchange(session, abort.signal, identity, (m) => reply.send(m), acceptsSse(req)),
            false,
          );
        } finally {
          session.inflight.delete(request.id);
          if (stream && !reply.started) session.streams.delete(stream.id);
        }
      }
    }
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
  function sessionExchange(
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

  /**
   * The GET stream (basic/transports "Listening for Messages from the Server"),
   * or, with Last-Event-ID, the resumption of the stream that id belongs to.
   */
  async function get(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    req.resume();
    if (!acceptsSse(req)) {
      return sendJson(
        res,
        406,
        failure(null, ErrorCode.InvalidRequest, "Accept must include text/event-stream"),
      );
    }
    const session = sessionFor(req, res, identity);
    if (!session) return;
    session.lastSeen = Date.now();
    const extra = { "mcp-session-id": session.id };
    const last = header(req, "last-event-id");
    const parsed = last !== undefined ? EventStream.parseEventId(last) : undefined;
    if (parsed) {
      const stream =
        session.streams.get(parsed.stream) ??
        (session.standalone?.id === parsed.stream ? session.standalone : undefined);
      if (stream) {
        stream.attach(res, extra, parsed.seq);
        return;
      }
    }
    if (session.standalone?.live) {
      sendJson(
        res,
        409,
        failure(null, ErrorCode.InvalidRequest, "A GET stream is already open for this session"),
      );
      return;
    }
    session.standalone ??= new EventStream("g", streamOptions(session));
    session.standalone.attach(res, extra);
  }

  /** MCP 2025-11-25 basic/transports "Session Management": the client ends its session. */
  async function remove(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    req.resume();
    const session = sessionFor(req, res, identity);
    if (!session) return;
    closeSession(session);
    res.writeHead(200).end();
  }

  function sessionFor(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Session | undefined {
    const id = header(req, "mcp-session-id");
    if (id === undefined) {
      sendJson(res, 400, failure(null, ErrorCode.InvalidRequest, "Mcp-Session-Id header is required"));
      return undefined;
    }
    const session = sessions.get(id);
    if (!session || session.legacy || !owns(session, identity)) {
      sendJson(res, 404, failure(null, ErrorCode.InvalidRequest, "Session not found"));
      return undefined;
    }
    return session;
  }

  function closeSession(session: Session): void {
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
    for (const s of sessions.values()) if (idle(s, now)) closeSession(s);
  }

  /** Frees room for a new session by closing the least recently used idle one. */
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
    if (oldest) closeSession(oldest);
    return oldest !== undefined;
  }

  /** The client a session counts against: the verified subject, else the peer address. */
  function ownerOf(req: IncomingMessage, identity: Identity | undefined): string {
    return identity ? `sub:${identity.subject}` : `addr:${req.socket.remoteAddress ?? "?"}`;
  }

  /** 2024-11-05 HTTP+SSE: the stream, announcing where to POST (basic/transports "HTTP with SSE"). */
  async function sse(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    req.resume();
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const owner = ownerOf(req, identity);
    const room = makeRoom(owner);
    if (room !== "ok") {
      res
        .writeHead(room === "client" ? 429 : 503, { "content-type": "text/plain" })
        .end(room === "client" ? "too many sessions for this client\n" : "too many sessions\n");
      return;
    }
    const session = newSession("2024-11-05", true, {}, identity, owner);
    session.legacyRes = res;
    res.writeHead(200, SSE_HEADERS);
    res.write(
      `event: endpoint\ndata: ${options.legacyMessagesPath ?? "/messages"}?sessionId=${session.id}\n\n`,
    );
    const timer = setInterval(() => res.write(": keep-alive\n\n"), limits.keepAliveMs);
    timer.unref();
    res.on("close", () => {
      clearInterval(timer);
      session.legacyRes = undefined;
      closeSession(session);
    });
  }

  async function messages(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    if (req.method !== "POST") {
      req.resume();
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const id = new URL(req.url ?? "/", "http://localhost").searchParams.get("sessionId");
    const session = id ? sessions.get(id) : undefined;
    if (!session?.legacy || !owns(session, identity)) {
      req.resume();
      return sendJson(res, 404, failure(null, ErrorCode.InvalidRequest, "Session not found"));
    }
    const parsed = await readMessage(req, res);
    if (parsed === undefined) return;
    const msg = classify(parsed);
    session.lastSeen = Date.now();
    if (msg.kind === "invalid") {
      return sendJson(res, 400, failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`));
    }
    res.writeHead(202).end();
    if (msg.kind === "response") return settle(session, msg);
    if (msg.kind === "notification") return notification(session, msg.message);
    const request = msg.message;
    if (request.method === "initialize") {
      const params = (request.params ?? {}) as JsonObject;
      (session as { clientCapabilities: JsonObject }).clientCapabilities = capabilitiesOf(
        params.capabilities,
      );
    }
    const abort = new AbortController();
    session.inflight.set(request.id, abort);
    const send = (m: unknown) => sendOnSession(session, m);
    try {
      const response = await options.server
        .handle(request, sessionExchange(session, abort.signal, identity, send))
        .catch(() => failure(request.id, ErrorCode.InternalError, "Internal error"));
      send(response);
    } finally {
      session.inflight.delete(request.id);
    }
  }

  return {
    streamable: guarded(streamable),
    sse: guarded(sse),
    messages: guarded(messages),
    sessionCount: () => sessions.size,
    broadcast(method, params = {}) {
      for (const s of sessions.values()) sendOnSession(s, { jsonrpc: "2.0", method, params });
    },
    close() {
      clearInterval(sweeper);
      options.server.close();
      for (const s of [...sessions.values()]) closeSession(s);
    },
  };
}

/**
 * The answer to one POSTed request: JSON when nothing else is sent first,
 * SSE as soon as a notification or server-to-client request must go out
 * (basic/transports "Sending Messages to the Server").
 */
class Reply {
  started = false;

  constructor(
    readonly res: ServerResponse,
    private readonly sse: boolean,
    private readonly extra: { [k: string]: string },
    private readonly stream?: EventStream,
  ) {}

  send(message: unknown): void {
    if (!this.sse) return;
    if (this.stream) {
      // A resumable stream buffers events even after its connection dropped.
      if (!this.started) {
        if (this.res.destroyed) return;
        this.started = true;
        this.stream.attach(this.res, this.extra);
      }
      this.stream.send(message);
      return;
    }
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { ...SSE_HEADERS, ...this.extra });
    }
    this.res.write(sseEvent(message));
  }

  finish(response: JsonRpcResponse, status: number): void {
    if (this.stream && this.started) {
      this.stream.send(response);
      this.stream.end();
      return;
    }
    if (this.started) {
      // The last event and the end of the body in one write.
      if (!this.res.writableEnded && !this.res.destroyed) this.res.end(sseEvent(response));
      return;
    }
    if (this.res.destroyed || this.res.headersSent) return;
    this.res.writeHead(status, { ...JSON_HEADERS, ...this.extra }).end(JSON.stringify(response));
  }
}

/** HTTP status of a 2026-07-28 error (basic/transports "Error Handling"). */
function statelessStatus(code: number): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (
    code === ErrorCode.InvalidRequest ||
    code === McpErrorCode.HeaderMismatch ||
    code === McpErrorCode.MissingRequiredClientCapability ||
    code === McpErrorCode.UnsupportedProtocolVersion
  ) {
    return 400;
  }
  return 200;
}

function unsupportedVersion(id: RequestId | null, requested: string): JsonRpcResponse {
  return failure(id, McpErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${requested}`, {
    supported: [...STATELESS_VERSIONS],
    requested,
  });
}

function capabilitiesOf(v: JsonValue | undefined): JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
}

function owns(session: Session, identity: Identity | undefined): boolean {
  return session.subject === undefined || session.subject === identity?.subject;
}

const connectionSignals = new WeakMap<Socket, AbortSignal>();

/**
 * One abort signal per client connection, aborted when the connection closes.
 * HTTP/1.1 ends a response early only by closing its connection, so this
 * cancels exactly the calls still running on it, without an AbortController
 * (costly in Node) per request. Pipelined requests share it, hence no
 * listener limit.
 */
function connectionSignal(socket: Socket): AbortSignal {
  let signal = connectionSignals.get(socket);
  if (!signal) {
    const abort = new AbortController();
    socket.once("close", () => abort.abort(new Error("client disconnected")));
    signal = abort.signal;
    setMaxListeners(0, signal);
    connectionSignals.set(socket, signal);
  }
  return signal;
}

function hasSession(req: IncomingMessage): boolean {
  return req.headers["mcp-session-id"] !== undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function acceptsSse(req: IncomingMessage): boolean {
  return /text\/event-stream/i.test(req.headers.accept ?? "");
}

function idOf(msg: ReturnType<typeof classify>): RequestId | null {
  return msg.kind === "request" ? msg.message.id : msg.kind === "invalid" ? msg.id : null;
}

function sendJson(res: ServerResponse, status: number, payload: JsonRpcResponse, close = false): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, close ? { ...JSON_HEADERS, connection: "close" } : JSON_HEADERS).end(body);
}

/** Answers an authentication or authorization failure (RFC 6750 §3). */
export function refuse(res: ServerResponse, failure: AuthFailure, close = false): void {
  const body = failure.error
    ? JSON.stringify({ error: failure.error, error_description: failure.description })
    : JSON.stringify({ error: "unauthorized", error_description: failure.description });
  const headers = { ...JSON_HEADERS, "www-authenticate": failure.wwwAuthenticate };
  res.writeHead(failure.status, close ? { ...headers, connection: "close" } : headers).end(body);
}

/** Bodies up to this size are drained after a refusal, keeping the connection for the retry. */
const DRAIN_LIMIT = 64 * 1024;

/** A body that is chunked, or declared larger than {@link DRAIN_LIMIT}. */
function hasLargeBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = Number(req.headers["content-length"] ?? 0);
  return !(length <= DRAIN_LIMIT);
}

/** The first of Host and Authorization that the request carries more than once (Node keeps only the first). */
function duplicatedHeader(req: IncomingMessage): string | undefined {
  let host = 0;
  let authorization = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === "host" && ++host > 1) return "Host";
    if (name === "authorization" && ++authorization > 1) return "Authorization";
  }
  return undefined;
}
