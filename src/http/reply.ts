import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AuthFailure, ResourceServer } from "../auth/index.js";
import {
  ErrorCode,
  type Exchange,
  failure,
  InsufficientScopeError,
  insufficientScopeFailure,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type McpServer,
  type RequestId,
} from "../mcp/index.js";
import { messageParts } from "./message-text.js";
import type { ReplyStream } from "./session-streams.js";
import { SSE_HEADERS, sseEvent, writeBatched } from "./sse.js";

export const JSON_HEADERS = { "content-type": "application/json" } as const;

/**
 * The answer to one POSTed request: JSON when nothing else is sent first,
 * SSE as soon as a notification or server-to-client request must go out
 * (MCP 2025-11-25 basic/transports "Sending Messages to the Server").
 */
export class Reply {
  started = false;

  constructor(
    readonly res: ServerResponse,
    private readonly sse: boolean,
    private readonly extra: { [k: string]: string },
    private readonly stream?: ReplyStream,
  ) {}

  send(message: unknown): void {
    if (!this.sse) return;
    if (this.stream) {
      // A resumable stream buffers events even after its connection dropped.
      if (!this.started) {
        if (this.res.destroyed) return;
        this.started = true;
        this.stream.start(this.res, this.extra);
      }
      this.stream.send(message);
      return;
    }
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { ...SSE_HEADERS, ...this.extra });
    }
    writeBatched(this.res, sseEvent(message));
  }

  /**
   * Ends without a response: the client cancelled the request, and a receiver
   * of `notifications/cancelled` SHOULD NOT respond (MCP 2025-11-25
   * basic/utilities/cancellation). An SSE reply just ends; one not started is
   * an empty SSE stream, or `202` for a client that takes only JSON.
   */
  drop(): void {
    if (this.stream && this.started) {
      this.stream.close();
      return;
    }
    if (this.started) {
      if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
      return;
    }
    if (this.res.destroyed || this.res.headersSent) return;
    if (this.sse) this.res.writeHead(200, { ...SSE_HEADERS, ...this.extra }).end();
    else this.res.writeHead(202, this.extra).end();
  }

  finish(response: JsonRpcResponse, status: number): void {
    if (this.stream && this.started) {
      this.stream.finish(response);
      return;
    }
    if (this.started) {
      // The last event and the end of the body in one write.
      if (!this.res.writableEnded && !this.res.destroyed) this.res.end(sseEvent(response));
      return;
    }
    if (this.res.destroyed || this.res.headersSent) return;
    const body = messageParts(response);
    if (typeof body === "string") {
      // With the length given, Node sends the body as is rather than in chunked encoding.
      const headers = { ...JSON_HEADERS, ...this.extra, "content-length": Buffer.byteLength(body) };
      this.res.writeHead(status, headers).end(body);
      return;
    }
    // Parts written in one tick leave in one socket write (Node corks the connection meanwhile).
    const lengths = body.map((part) => Buffer.byteLength(part));
    const length = lengths.reduce((sum, n) => sum + n, 0);
    this.res.writeHead(status, { ...JSON_HEADERS, ...this.extra, "content-length": length });
    const last = body.length - 1;
    for (let i = 0; i < last; i++)
      this.res.write(body[i], textEncoding(body[i] as string, lengths[i] as number));
    this.res.end(body[last], textEncoding(body[last] as string, lengths[last] as number));
  }
}

/**
 * The encoding to write `text` in, knowing its UTF-8 length: ASCII text (as
 * long in UTF-8 as in code units) is the same bytes in Latin-1, which Node
 * copies instead of encoding, about half the cost for a large reply.
 */
function textEncoding(text: string, utf8Length: number): BufferEncoding {
  return utf8Length === text.length ? "latin1" : "utf8";
}

/** Answers with a JSON-RPC message as JSON (nothing when a response was already started). */
export function sendJson(res: ServerResponse, status: number, payload: JsonRpcResponse, close = false): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, close ? { ...JSON_HEADERS, connection: "close" } : JSON_HEADERS).end(body);
}

/** A request header (lower-case name); the first when repeated. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether the client accepts an SSE response (MCP 2025-11-25 basic/transports). */
export function acceptsSse(req: IncomingMessage): boolean {
  return /text\/event-stream/i.test(req.headers.accept ?? "");
}

const connectionSignals = new WeakMap<Socket, AbortSignal>();

/**
 * One abort signal per client connection, aborted when the connection closes.
 * HTTP/1.1 ends a response early only by closing its connection, so this
 * cancels exactly the calls still running on it, without an AbortController
 * (costly in Node) per request. Pipelined requests share it, hence no
 * listener limit.
 */
export function connectionSignal(socket: Socket): AbortSignal {
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

/** Answers an authentication or authorization failure (RFC 6750 §3). */
export function refuse(res: ServerResponse, failure: AuthFailure, close = false): void {
  const body = failure.error
    ? JSON.stringify({ error: failure.error, error_description: failure.description })
    : JSON.stringify({ error: "unauthorized", error_description: failure.description });
  const headers = { ...JSON_HEADERS, "www-authenticate": failure.wwwAuthenticate };
  res.writeHead(failure.status, close ? { ...headers, connection: "close" } : headers).end(body);
}

/**
 * Runs a request through the MCP core and answers it. A missing scope becomes
 * a 403 `insufficient_scope` challenge while nothing was sent yet (MCP
 * basic/authorization "Scope Challenge"; RFC 6750 §3.1); `status` gives the
 * HTTP status of an error response (2026-07-28), 200 otherwise.
 */
export async function answer(
  server: McpServer,
  auth: ResourceServer | undefined,
  reply: Reply,
  request: JsonRpcRequest & { id: RequestId },
  ex: Exchange,
  status?: (code: number) => number,
): Promise<void> {
  let response: JsonRpcResponse;
  try {
    response = await server.handle(request, ex);
  } catch (err) {
    if (!(err instanceof InsufficientScopeError)) {
      response = failure(request.id, ErrorCode.InternalError, "Internal error");
    } else if (auth && !reply.started) {
      refuse(reply.res, auth.insufficientScope(err.required));
      return;
    } else {
      response = insufficientScopeFailure(request.id, err);
    }
  }
  if (ex.signal.reason instanceof RequestCancelled) reply.drop();
  else reply.finish(response, status && "error" in response ? status(response.error.code) : 200);
}

/** The abort reason of a request the client cancelled with `notifications/cancelled`. */
export class RequestCancelled extends Error {
  override readonly name = "RequestCancelled";
  constructor(reason: string | undefined) {
    super(reason ? `cancelled by the client: ${reason}` : "cancelled by the client");
  }
}
