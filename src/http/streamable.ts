import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Identity, ResourceServer } from "../auth/index.js";
import { ErrorCode, failure, type JsonRpcRequest, type McpServer, type RequestId } from "../mcp/index.js";
import type { PostRoute } from "./classify.js";
import { acceptsSse, answer, header, JSON_HEADERS, Reply, sendJson } from "./reply.js";
import { ownerOf, owns, type Session, type SessionTable } from "./sessions.js";
import { EventStream } from "./sse.js";

/** What the Streamable HTTP session handlers share. */
export interface StreamableContext {
  readonly server: McpServer;
  readonly auth: ResourceServer | undefined;
  readonly sessions: SessionTable;
}

/**
 * Session-era Streamable HTTP (MCP 2025-03-26 … 2025-11-25 basic/transports):
 * `initialize` creates a session, later POSTs carry `Mcp-Session-Id`, GET
 * opens (or with `Last-Event-ID` resumes) a stream, DELETE ends the session.
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
    const session = sessions.get(route.sessionId);
    const msg = route.message;
    const id = msg.kind === "request" ? msg.message.id : null;
    if (!session || session.legacy || !owns(session, identity)) {
      return sendJson(res, 404, failure(id, ErrorCode.InvalidRequest, "Session not found"));
    }
    if (route.headerVersion !== undefined && route.headerVersion !== session.version) {
      const text = `MCP-Protocol-Version ${route.headerVersion} differs from the session's ${session.version}`;
      return sendJson(res, 400, failure(id, ErrorCode.InvalidRequest, text));
    }
    session.lastSeen = Date.now();
    switch (msg.kind) {
      case "response":
        sessions.settle(session, msg);
        res.writeHead(202).end();
        return;
      case "notification":
        sessions.notification(session, msg.message);
        res.writeHead(202).end();
        return;
      case "request":
        return request(session, msg.message, req, res, identity);
    }
  }

  async function request(
    session: Session,
    request: JsonRpcRequest & { id: RequestId },
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const stream = sessions.openStream(session);
    const sse = acceptsSse(req);
    const reply = new Reply(res, sse, { "mcp-session-id": session.id }, stream);
    const abort = new AbortController();
    session.inflight.set(request.id, abort);
    res.on("close", () => {
      // A JSON reply cannot be resumed: the caller is gone, so stop the work.
      if (!reply.started && !res.writableFinished) abort.abort(new Error("client disconnected"));
    });
    try {
      // A client that does not accept SSE on this POST cannot receive requests before the result.
      const ex = sessions.exchange(session, abort.signal, identity, (m) => reply.send(m), sse);
      await answer(server, ctx.auth, reply, request, ex);
    } finally {
      session.inflight.delete(request.id);
      if (!reply.started) session.streams.delete(stream.id);
    }
  }

  /** MCP 2025-11-25 basic/lifecycle "Initialization": creates the session. */
  async function initialize(
    request: JsonRpcRequest & { id: RequestId },
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): Promise<void> {
    const owner = ownerOf(req, identity);
    const room = sessions.makeRoom(owner);
    if (room !== "ok") {
      const text =
        room === "client"
          ? "Too many sessions for this client; close one (DELETE) or try again later"
          : "Too many sessions; try again later";
      return sendJson(res, room === "client" ? 429 : 503, failure(request.id, ErrorCode.InternalError, text));
    }
    const params = (request.params ?? {}) as JsonObject;
    const response = await server.handle(request, {
      signal: new AbortController().signal,
      ...(identity ? { identity } : {}),
      stateless: false,
      clientCapabilities: {},
      logLevel: undefined,
      notify: () => {},
    });
    if ("error" in response) return sendJson(res, 400, response);
    const version = String((response.result as JsonObject).protocolVersion);
    const session = sessions.create(version, false, capabilitiesOf(params.capabilities), identity, owner);
    res.writeHead(200, { ...JSON_HEADERS, "mcp-session-id": session.id }).end(JSON.stringify(response));
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
      const text = "A GET stream is already open for this session";
      return sendJson(res, 409, failure(null, ErrorCode.InvalidRequest, text));
    }
    sessions.standalone(session).attach(res, extra);
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
    sessions.close(session);
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

  return { post, initialize, get, remove };
}

/** The client's capabilities from `initialize` params. */
export function capabilitiesOf(v: JsonValue | undefined): JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
}
