import type { IncomingMessage, ServerResponse } from "node:http";
import {
  classify,
  ErrorCode,
  failure,
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
        const reply = await options.server.handle(msg.message, { signal: abort.signal });
        res.off("close", onClose);
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
