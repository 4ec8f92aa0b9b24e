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
      if (tooLarge) return;
      // The parser bounds what it buffers between chunks; an event that arrived within one chunk is measured here.
      if (e.data.length > maxEventSize) {
        tooLarge = true;
        return;
      }
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
  // The decoder removes a leading BOM (§9.2.5: UTF-8 decode); the parser must not strip
  // anything of its own from the first text it is fed, such as a literal "ï»¿".
  parser.feed("");
  const lineEnds = lineEndsToLf();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const chunk = await reader.read();
      parser.feed(lineEnds(chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true })));
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

/**
 * CRLF, LF and CR each end a line (§9.2.5). The parser waits for the byte after
 * a CR to tell CR from CRLF, so an event ended by CR CR at the end of a chunk
 * waited for more bytes, and was lost at the end of the stream. Every line end
 * becomes LF as it arrives instead; an LF right after a CR that ended the
 * previous text is the rest of that CRLF and is dropped.
 */
function lineEndsToLf(): (text: string) => string {
  let afterCr = false;
  return (text) => {
    if (text === "") return text;
    const rest = afterCr && text.charCodeAt(0) === 10 ? text.slice(1) : text;
    afterCr = text.endsWith("\r");
    return rest.replace(/\r\n?/g, "\n");
  };
}

function toEvent(e: EventSourceMessage, retry: number | undefined): SseEvent {
  return {
    ...(e.id !== undefined ? { id: e.id } : {}),
    ...(e.event !== undefined ? { event: e.event } : {}),
    data: e.data,
    ...(retry !== undefined ? { retry } : {}),
  };
}
