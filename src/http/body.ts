import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, failure } from "../mcp/index.js";
import { sendJson } from "./reply.js";

/** Result of reading a request body under a size limit. */
export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: "too_large" | "aborted" };

/**
 * Reads a request body, refusing more than `limit` bytes (by Content-Length up
 * front, or while streaming) so an oversized body can never exhaust memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve({ ok: false, reason: "too_large" });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        req.resume();
        finish({ ok: false, reason: "too_large" });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () =>
      finish({ ok: true, body: chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks) }),
    );
    req.on("error", () => finish({ ok: false, reason: "aborted" }));
    req.on("close", () => finish({ ok: false, reason: "aborted" }));
  });
}

/**
 * Reads and parses a JSON-RPC body (MCP basic/transports: POST with
 * `Content-Type: application/json`); undefined once a failure has been answered
 * (415, 413 with the connection closed, 400 for a body that is not JSON).
 */
export async function readMessage(
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<unknown | undefined> {
  const contentType = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(contentType)) {
    req.resume();
    sendJson(res, 415, failure(null, ErrorCode.InvalidRequest, "Content-Type must be application/json"));
    return undefined;
  }
  const body = await readBody(req, maxBodyBytes);
  if (!body.ok) {
    if (body.reason === "too_large") {
      const msg = `Request body exceeds ${maxBodyBytes} bytes`;
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
