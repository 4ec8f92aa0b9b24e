import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Identity, ResourceServer } from "../auth/index.js";
import {
  ErrorCode,
  failure,
  type JsonRpcRequest,
  type McpServer,
  type RequestId,
  type SessionHooks,
} from "../mcp/index.js";
import type { PostRoute } from "./classify.js";
import type { LiveSession } from "./live-session.js";
import { acceptsSse, answer, header, JSON_HEADERS, Reply, sendJson } from "./reply.js";
import { ownerOf, type SessionService } from "./session-service.js";
import { parseEventId } from "./sse-connection.js";
import { traceHeadersOf, withTraceHeaders } from "./trace-headers.js";

/** What the Streamable HTTP session handlers share. */
export interface StreamableContext {
  readonly server: McpServer;
  readonly auth: ResourceServer | undefined;
  readonly sessions: SessionService;
}

/**
 * Session-era Streamable HTTP (MCP 2025-03-26 … 2025-11-25 basic/transports):
 * `initialize` creates a session, later POSTs carry `Mcp-Session-Id`, GET
 * opens (or with `Last-Event-ID` resumes) a stream, DELETE ends the session.
 * Any replica serves any of them; the session's state is shared.
 */
export function createStreamable(ctx: StreamableContext) {
  const { server, sessions } = ctx;

  /** A POST carrying `Mcp-Session-Id`. */
  async function post(
    route: Extract<PostRoute, { kind: "session" }>,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const msg = route.message;
    const id = msg.kind === "request" ? msg.message.id : null;
    const live = await stateOr503(res, id, () => sessions.open(route.sessionId, identity, "streamable"));
    if (live === null) return;
    if (!live) return sendJson(res, 404, failure(id, ErrorCode.InvalidRequest, "Session not found"));
    if (route.headerVersion !== undefined && route.headerVersion !== live.version) {
      const text = `MCP-Protocol-Version ${route.headerVersion} differs from the session's ${live.version}`;
      return sendJson(res, 400, failure(id, ErrorCode.InvalidRequest, text));
    }
    switch (msg.kind) {
      case "response":
        sessions.settle(live, msg);
        res.writeHead(202).end();
        return;
      case "notification":
        sessions.notification(live, msg.message);
        res.writeHead(202).end();
        return;
      case "request":
        return request(live, msg.message, req, res, identity);
    }
  }

  async function request(
    live: LiveSession,
    request: JsonRpcRequest & { id: RequestId },
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const sse = acceptsSse(req);
    const extra = { "mcp-session-id": live.id };
    const reply = new Reply(res, sse, extra, sse ? sessions.replyStream(live, request.id) : undefined);
    const abort = sessions.begin(live, request.id);
    res.on("close", () => {
      // A JSON reply cannot be resumed: the caller is gone, so stop the work.
      if (!reply.started && !res.writableFinished) abort.abort(new Error("client disconnected"));
    });
    try {
      // A client that does not accept SSE on this POST cannot receive requests before the result.
      const ex = sessions.exchange(live, abort.signal, identity, (m) => reply.send(m), sse);
      await answer(server, ctx.auth, reply, request, withTraceHeaders(ex, req));
    } finally {
      sessions.end(live, request.id);
    }
  }

  /** MCP 2025-11-25 basic/lifecycle "Initialization": creates the session. */
  async function initialize(
    request: JsonRpcRequest & { id: RequestId },
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const params = (request.params ?? {}) as JsonObject;
    const response = await server.handle(request, {
      signal: new AbortController().signal,
      ...(identity ? { identity } : {}),
      era: "session",
      session: NO_SESSION_YET,
      clientCapabilities: {},
      logLevel: undefined,
      notify: () => {},
      traceHeaders: traceHeadersOf(req),
    });
    if ("error" in response) return sendJson(res, 400, response);
    const version = String((response.result as JsonObject).protocolVersion);
    const caps = capabilitiesOf(params.capabilities);
    const owner = ownerOf(req, identity);
    const created = await stateOr503(res, request.id, () =>
      sessions.create("streamable", version, caps, identity, owner),
    );
    if (created === null) return;
    if (!created.ok) {
      const text =
        created.reason === "client"
          ? "Too many sessions for this client; close one (DELETE) or try again later"
          : "Too many sessions; try again later";
      const status = created.reason === "client" ? 429 : 503;
      return sendJson(res, status, failure(request.id, ErrorCode.InternalError, text));
    }
    res.writeHead(200, { ...JSON_HEADERS, "mcp-session-id": created.id }).end(JSON.stringify(response));
    req.resume();
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
    const live = await sessionFor(req, res, identity);
    if (!live) return;
    const extra = { "mcp-session-id": live.id };
    const last = header(req, "last-event-id");
    const parsed = last !== undefined ? parseEventId(last) : undefined;
    try {
      if (parsed && (await sessions.resume(live, parsed.stream, parsed.seq, res, extra))) return;
      if (await sessions.listen(live, res, extra)) return;
    } catch {
      return unavailable(res, null);
    }
    const text = "A GET stream is already open for this session";
    sendJson(res, 409, failure(null, ErrorCode.InvalidRequest, text));
  }

  /** MCP 2025-11-25 basic/transports "Session Management": the client ends its session. */
  async function remove(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    req.resume();
    const live = await sessionFor(req, res, identity);
    if (!live) return;
    if ((await stateOr503(res, null, () => sessions.close(live.id))) === null) return;
    res.writeHead(200).end();
  }

  async function sessionFor(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<LiveSession | undefined> {
    const id = header(req, "mcp-session-id");
    if (id === undefined) {
      sendJson(res, 400, failure(null, ErrorCode.InvalidRequest, "Mcp-Session-Id header is required"));
      return undefined;
    }
    const live = await stateOr503(res, null, () => sessions.open(id, identity, "streamable"));
    if (live === undefined) sendJson(res, 404, failure(null, ErrorCode.InvalidRequest, "Session not found"));
    return live ?? undefined;
  }

  return { post, initialize, get, remove };
}

/**
 * The session of an `initialize` request, which runs before its session
 * exists (MCP 2025-11-25 basic/lifecycle "Initialization"), and of a request
 * refused over a limit (request-gate.ts): nothing reads it, so any use is a
 * bug and throws.
 */
export const NO_SESSION_YET: SessionHooks = {
  logLevel: undefined,
  setLogLevel: noSessionYet,
  subscribe: noSessionYet,
  unsubscribe: noSessionYet,
  notify: noSessionYet,
};

function noSessionYet(): never {
  throw new Error("initialize has no session yet");
}

/**
 * Runs an operation on the shared state; when it cannot be reached the
 * request is answered 503 and the result is null.
 */
export async function stateOr503<T>(
  res: ServerResponse,
  id: RequestId | null,
  op: () => T | Promise<T>,
): Promise<T | null> {
  try {
    return await op();
  } catch {
    unavailable(res, id);
    return null;
  }
}

function unavailable(res: ServerResponse, id: RequestId | null): void {
  const text = "The session store is unavailable; try again shortly";
  sendJson(res, 503, failure(id, ErrorCode.InternalError, text));
}

/** The client's capabilities from `initialize` params. */
export function capabilitiesOf(v: JsonValue | undefined): JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
}
