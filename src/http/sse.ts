/** Headers of every SSE response; `X-Accel-Buffering: no` keeps nginx from holding events back. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
} as const;

/** One JSON-RPC message as an SSE `message` event, with an `id` when the stream is resumable. */
export function sseEvent(message: unknown, id?: string): string {
  const data = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
  return id === undefined ? data : `id: ${id}\n${data}`;
}
