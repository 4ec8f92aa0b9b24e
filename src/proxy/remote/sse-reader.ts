import { createParser, type EventSourceMessage } from "eventsource-parser";
import { RemoteError } from "../types.js";

/** One server-sent event (HTML Living Standard §9.2 "Server-sent events"). */
export interface SseEvent {
  /** The `id` field of this event, if it had one. */
  readonly id?: string;
  /** The `event` field; undefined means the default type, `message`. */
  readonly event?: string;
  readonly data: string;
  /** A `retry` field (reconnection delay in ms) seen since the previous event. */
  readonly retry?: number;
}

/** Options of {@link readSse}. */
export interface SseReaderOptions {
  /**
   * Largest event, counted as the characters of its buffered data (for JSON,
   * nearly all ASCII, the same as bytes). Default 16 MiB. A larger event fails
   * the stream, so a misbehaving server cannot exhaust memory.
   */
  readonly maxEventSize?: number;
}

/** Default {@link SseReaderOptions.maxEventSize}. */
export const MAX_EVENT_SIZE = 16 * 1024 * 1024;

/**
 * Reads the events of an SSE response body in order. Ends when the body ends;
 * throws a {@link RemoteError} when an event is too large, and whatever the
 * body throws when the connection fails. Leaving the loop early cancels the body.
 */
export async function* readSse(res: Response, options: SseReaderOptions = {}): AsyncGenerator<SseEvent> {
  if (!res.body) return;
  const maxEventSize = options.maxEventSize ?? MAX_EVENT_SIZE;
  const ready: SseEvent[] = [];
  let retry: number | undefined;
  let tooLarge = false;
  const parser = createParser({
    maxBufferSize: maxEventSize,
    onEvent: (e) => {
      ready.push(toEvent(e, retry));
      retry = undefined;
    },
    onRetry: (ms) => {
      retry = ms;
    },
    // Unknown fields and invalid retry values are ignored, as the SSE standard says.
    onError: (err) => {
      if (err.type === "max-buffer-size-exceeded") tooLarge = true;
    },
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const chunk = await reader.read();
      parser.feed(chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true }));
      // Events completed before the oversized one are still delivered, in order.
      while (ready.length > 0) yield ready.shift() as SseEvent;
      if (tooLarge) throw new RemoteError(`an SSE event exceeds ${maxEventSize} characters`);
      if (chunk.done) return;
    }
  } finally {
    // Releases the connection when the consumer stops early or the stream failed.
    reader.cancel().catch(() => {});
  }
}

function toEvent(e: EventSourceMessage, retry: number | undefined): SseEvent {
  return {
    ...(e.id !== undefined ? { id: e.id } : {}),
    ...(e.event !== undefined ? { event: e.event } : {}),
    data: e.data,
    ...(retry !== undefined ? { retry } : {}),
  };
}
