import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthFailure, Identity, ResourceServer } from "../auth/index.js";
import {
  classify,
  ErrorCode,
  failure,
  InsufficientScopeError,
  isSupportedVersion,
  type JsonRpcResponse,
  type McpServer,
} from "../mcp/index.js";
import { readBody } from "./body.js";

/** Options of the Streamable HTTP endpoint. */
export interface StreamableHttpOptions {
  readonly server: McpServer;
  /** Largest accepted request body in bytes. */
  readonly maxBodyBytes: number;
  /** Bearer-token validation; every request needs a valid token when set. */
  readonly auth?: ResourceServer;
}

const JSON_HEADERS = { "content-type": "application/json" } as const;

/**
 * Serves one MCP endpoint over Streamable HTTP (MCP 2025-11-25,
 * basic/transports "Streamable HTTP"): JSON-RPC messages are POSTed; requests
 * are answered with `application/json`, notifications and responses with 202.
 * The server offers no standalone GET stream yet, so GET and DELETE answer 405
 * as the transport allows ("Listening for Messages from the Server").
 */
export function createStreamableHttpHandler(options: StreamableHttpOptions) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      req.resume();
      return;
    }
    let identity: Identity | undefined;
    if (options.auth) {
      const result = await options.auth.authenticate(req.headers.authorization);
      if (!result.ok) {
        req.resume();
        return refuse(res, result);
      }
      identity = result.identity;
    }
    const version = req.headers["mcp-protocol-version"];
    if (version !== undefined && !isSupportedVersion(version)) {
      req.resume();
      return sendJson(
        res,
        400,
        failure(null, ErrorCode.InvalidRequest, `Unsupported MCP-Protocol-Version: ${version}`),
      );
    }
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(contentType)) {
      req.resume();
      return sendJson(
        res,
        415,
        failure(null, ErrorCode.InvalidRequest, "Content-Type must be application/json"),
      );
    }
    const body = await readBody(req, options.maxBodyBytes);
    if (!body.ok) {
      if (body.reason === "too_large") {
        return sendJson(
          res,
          413,
          failure(null, ErrorCode.InvalidRequest, `Request body exceeds ${options.maxBodyBytes} bytes`),
          true,
        );
      }
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString("utf8"));
    } catch {
      return sendJson(
        res,
        400,
        failure(null, ErrorCode.ParseError, "Parse error: the body is not valid JSON"),
      );
    }
    const msg = classify(parsed);
    switch (msg.kind) {
      case "invalid":
        return sendJson(
          res,
          400,
          failure(msg.id, ErrorCode.InvalidRequest, `Invalid request: ${msg.reason}`),
        );
      case "notification":
      case "response":
        res.writeHead(202).end();
        return;
      case "request": {
        const abort = new AbortController();
        const onClose = () => {
          if (!res.writableFinished) abort.abort(new Error("client disconnected"));
        };
        res.on("close", onClose);
        let reply: JsonRpcResponse | undefined;
        try {
          reply = await options.server.handle(msg.message, {
            signal: abort.signal,
            ...(identity ? { identity } : {}),
          });
        } catch (err) {
          if (err instanceof InsufficientScopeError && options.auth) {
            return refuse(res, options.auth.insufficientScope(err.required));
          }
          throw err;
        } finally {
          res.off("close", onClose);
        }
        if (reply) sendJson(res, 200, reply);
        else res.writeHead(202).end();
        return;
      }
    }
  };
}

function sendJson(res: ServerResponse, status: number, payload: JsonRpcResponse, close = false): void {
  if (res.destroyed) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, close ? { ...JSON_HEADERS, connection: "close" } : JSON_HEADERS).end(body);
}

/** Answers an authentication or authorization failure (RFC 6750 §3). */
export function refuse(res: ServerResponse, failure: AuthFailure): void {
  const body = failure.error
    ? JSON.stringify({ error: failure.error, error_description: failure.description })
    : JSON.stringify({ error: "unauthorized", error_description: failure.description });
  res.writeHead(failure.status, { ...JSON_HEADERS, "www-authenticate": failure.wwwAuthenticate }).end(body);
}
