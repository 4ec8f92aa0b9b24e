import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import {
  classify,
  ErrorCode,
  failure,
  InsufficientScopeError,
  insufficientScopeFailure,
  type McpServer,
} from "../mcp/index.js";
import { readMessage } from "./body.js";
import { RequestCancelled, sendJson } from "./reply.js";
import type { RequestGate } from "./request-gate.js";
import type { LimitTicket } from "./request-limits.js";
import { ownerOf, type SessionService } from "./session-service.js";
import { SSE_HEADERS } from "./sse.js";
import { capabilitiesOf, stateOr503 } from "./streamable.js";
import { withTraceHeaders } from "./trace-headers.js";

/** What the 2024-11-05 handlers need. */
export interface LegacyContext {
  readonly server: McpServer;
  readonly sessions: SessionService;
  readonly maxBodyBytes: number;
  readonly keepAliveMs: number;
  /** Path of the message endpoint, announced in the `endpoint` event. */
  readonly messagesPath: string;
  /** Limits per caller and per session; none when absent. */
  readonly gate?: RequestGate;
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
    const refuse = (status: number, text: string): void => {
      res.writeHead(status, { "content-type": "text/plain" }).end(`${text}\n`);
    };
    let live: Awaited<ReturnType<typeof sessions.open>>;
    try {
      const created = await sessions.create("legacy", "2024-11-05", {}, identity, ownerOf(req, identity));
      if (!created.ok) {
        if (created.reason === "client") refuse(429, "too many sessions for this client");
        else refuse(503, "too many sessions");
        return;
      }
      live = await sessions.open(created.id, identity, "legacy");
    } catch {
      refuse(503, "the session store is unavailable");
      return;
    }
    if (!live) return refuse(503, "the session ended at once");
    const session = live;
    sessions.holdLegacy(session, res);
    res.writeHead(200, SSE_HEADERS);
    res.write(`event: endpoint\ndata: ${ctx.messagesPath}?sessionId=${session.id}\n\n`);
    const timer = setInterval(() => res.write(": keep-alive\n\n"), ctx.keepAliveMs);
    timer.unref();
    res.on("close", () => {
      clearInterval(timer);
      session.legacyRes = undefined;
      void sessions.close(session.id).catch(() => {});
    });
  }

  /** A message for a session: accepted at once, answered on the session's stream, wherever it is held. */
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
    const live = id ? await stateOr503(res, null, () => sessions.open(id, identity, "legacy")) : undefined;
    if (live === null) return;
    if (!live) {
      req.resume();
      return sendJson(res, 404, failure(null, ErrorCode.InvalidRequest, "Session not found"));
    }
    const parsed = await readMessage(req, res, ctx.maxBodyBytes);
    if (parsed === undefined) return;
    const msg = classify(parsed);
    if (msg.kind === "invalid") {
      return sendJson(res, 400, failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`));
    }
    let ticket: LimitTicket | undefined;
    if (ctx.gate && msg.kind === "request") {
      // Refused before the 202, so the refusal still has an HTTP status of its own.
      ticket = ctx.gate.legacy(msg.message, live.id, req, res, identity);
      if (ticket === undefined) return;
    }
    res.writeHead(202).end();
    if (msg.kind === "response") return sessions.settle(live, msg);
    if (msg.kind === "notification") return sessions.notification(live, msg.message);
    const request = msg.message;
    const abort = sessions.begin(live, request.id);
    const send = (m: unknown) => sessions.notify(live, m);
    try {
      if (request.method === "initialize") {
        const params = (request.params ?? {}) as JsonObject;
        sessions.setCapabilities(live, capabilitiesOf(params.capabilities));
      }
      const response = await server
        .handle(request, withTraceHeaders(sessions.exchange(live, abort.signal, identity, send), req))
        .catch((err: unknown) =>
          // No HTTP status is left to refuse with: the POST was answered 202.
          err instanceof InsufficientScopeError
            ? insufficientScopeFailure(request.id, err)
            : failure(request.id, ErrorCode.InternalError, "Internal error"),
        );
      // A request the client cancelled gets no response (basic/utilities/cancellation).
      if (!(abort.signal.reason instanceof RequestCancelled)) send(response);
    } finally {
      sessions.end(live, request.id);
      ticket?.release();
    }
  }

  return { sse, messages };
}
