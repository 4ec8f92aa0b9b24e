import type { ServerResponse } from "node:http";
import { messageText } from "./message-text.js";

/** Headers of every SSE response; `X-Accel-Buffering: no` keeps nginx from holding events back. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
} as const;

/** One JSON-RPC message as an SSE `message` event, with an `id` when the stream is resumable. */
export function sseEvent(message: unknown, id?: string): string {
  const data = `event: message\ndata: ${messageText(message)}\n\n`;
  return id === undefined ? data : `id: ${id}\n${data}`;
}

/**
 * Writes an SSE chunk, gathering the chunks written in the same tick into one
 * socket write: a backend stream's messages arrive many to an HTTP/2 DATA
 * frame, and a write per event cost a system call per event (the relay's
 * largest cost in its profile).
 */
export function writeBatched(res: ServerResponse, chunk: string): void {
  if (!res.writableCorked) {
    res.cork();
    process.nextTick(uncork, res);
  }
  res.write(chunk);
}

function uncork(res: ServerResponse): void {
  // `end()` uncorks fully; uncorking a response that ended is harmless.
  if (res.writableCorked) res.uncork();
}
