import type { ServerResponse } from "node:http";
import { SSE_HEADERS, writeBatched } from "./sse.js";

/** The id of event `seq` of stream `stream` (`<stream>_<seq>`; `_0` primes a stream). */
export function eventId(stream: string, seq: number): string {
  return `${stream}_${seq}`;
}

/** The stream and sequence number of one of our event ids, if it is one. */
export function parseEventId(id: string): { stream: string; seq: number } | undefined {
  const cut = id.lastIndexOf("_");
  const digits = id.slice(cut + 1);
  if (cut <= 0 || !/^\d{1,15}$/.test(digits)) return undefined;
  return { stream: id.slice(0, cut), seq: Number(digits) };
}

/** One logged event as an SSE frame: its id, then the JSON-RPC message (already JSON text). */
export function sseFrame(stream: string, seq: number, data: string): string {
  return `id: ${stream}_${seq}\nevent: message\ndata: ${data}\n\n`;
}

/** Options of an {@link SseConnection}. */
export interface SseConnectionOptions {
  /** Interval of `: keep-alive` comments, in ms (0: none). */
  readonly keepAliveMs: number;
  /**
   * Primes the stream with an event carrying this id and the reconnection delay
   * `retryMs`, so the client can resume before any event (MCP 2025-11-25
   * basic/transports "Resumability and Redelivery").
   */
  readonly prime?: { readonly id: string; readonly retryMs: number };
}

/**
 * One SSE response a client holds open: headers at once, then frames, with
 * keep-alive comments in between. Writes after the client left are dropped.
 */
export class SseConnection {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly res: ServerResponse,
    extra: { readonly [k: string]: string },
    options: SseConnectionOptions,
    onClose: () => void,
  ) {
    res.writeHead(200, { ...SSE_HEADERS, ...extra });
    // Headers go out now even when there is nothing to send yet.
    res.flushHeaders();
    if (options.prime) res.write(`id: ${options.prime.id}\nretry: ${options.prime.retryMs}\ndata: \n\n`);
    if (options.keepAliveMs > 0) {
      this.timer = setInterval(() => res.write(": keep-alive\n\n"), options.keepAliveMs);
      this.timer.unref();
    }
    res.on("close", () => {
      this.stop();
      onClose();
    });
  }

  /** Whether the client is still there. */
  get open(): boolean {
    return !this.closed && !this.res.destroyed && !this.res.writableEnded;
  }

  write(frame: string): void {
    if (this.open) writeBatched(this.res, frame);
  }

  /** Ends the response, with a last frame in the same write when given. */
  end(frame?: string): void {
    this.stop();
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end(frame);
  }

  private stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
