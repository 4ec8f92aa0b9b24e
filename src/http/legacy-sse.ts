import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import { classify, ErrorCode, failure, type McpServer } from "../mcp/index.js";
import { readMessage } from "./body.js";
import { sendJson } from "./reply.js";
import { ownerOf, owns, type SessionTable } from "./sessions.js";
import { SSE_HEADERS } from "./sse.js";
import { capabilitiesOf } from "./streamable.js";

/** What the 2024-11-05 handlers need. */
export interface LegacyContext {
  readonly server: McpServer;
  readonly sessions: SessionTable;
  readonly maxBodyBytes: number;
  readonly keepAliveMs: number;
  /** Path of the message endpoint, announced in the `endpoint` event. */
  readonly messagesPath: string;
}

/** MCP 2024-11-05 basic/transports "HTTP with SSE": `GET /sse` and `POST /messages?sessionId=…`. */
export function createLegacySse(ctx: LegacyContext) {
  const { server, sessions } = ctx;

  /** The stream, announcing where to POST; the session lives as long as it. */
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
    const room = sessions.makeRoom(owner);
    if (room !== "ok") {
      res
        .writeHead(room === "client" ? 429 : 503, { "content-type": "text/plain" })
        .end(room === "client" ? "too many sessions for this client\n" : "too many sessions\n");
      return;
    }
    const session = sessions.create("2024-11-05", true, {}, identity, owner);
    session.legacyRes = res;
    res.writeHead(200, SSE_HEADERS);
    res.write(`event: endpoint\ndata: ${ctx.messagesPath}?sessionId=${session.id}\n\n`);
    const timer = setInterval(() => res.write(": keep-alive\n\n"), ctx.keepAliveMs);
    timer.unref();
    res.on("close", () => {
      clearInterval(timer);
      session.legacyRes = undefined;
      sessions.close(session);
    });
  }

  /** A message for a session: accepted at once, answered on the session's stream. */
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
    const parsed = await readMessage(req, res, ctx.maxBodyBytes);
    if (parsed === undefined) return;
    const msg = classify(parsed);
    session.lastSeen = Date.now();
    if (msg.kind === "invalid") {
      return sendJson(res, 400, failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`));
    }
    res.writeHead(202).end();
    if (msg.kind === "response") return sessions.settle(session, msg);
    if (msg.kind === "notification") return sessions.notification(session, msg.message);
    const request = msg.message;
    if (request.method === "initialize") {
      const params = (request.params ?? {}) as JsonObject;
      session.clientCapabilities = capabilitiesOf(params.capabilities);
    }
    const abort = new AbortController();
    session.inflight.set(request.id, abort);
    const send = (m: unknown) => sessions.sendOnSession(session, m);
    try {
      const response = await server
        .handle(request, sessions.exchange(session, abort.signal, identity, send))
        .catch(() => failure(request.id, ErrorCode.InternalError, "Internal error"));
      send(response);
    } finally {
      session.inflight.delete(request.id);
    }
  }

  return { sse, messages };
}
