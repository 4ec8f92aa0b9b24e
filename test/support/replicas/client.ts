/**
 * A raw session-era MCP client for replica tests: each call names the base URL
 * it goes to (one replica, or a balancer), so a test decides where each request lands.
 */

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON-RPC payloads
export type Loose = any;

/** One SSE event: its id, and its data parsed as JSON. */
export interface SseEvent {
  id?: string;
  data: Loose;
}

export const SESSION_VERSION = "2025-11-25";

/** POSTs one JSON-RPC message to `<base>/mcp`. */
export function mcpPost(
  base: string,
  body: unknown,
  session?: string,
  accept = "application/json, text/event-stream",
) {
  return fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept,
      "mcp-protocol-version": SESSION_VERSION,
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** Opens (or with `lastEventId` resumes) a stream of a session. */
export function mcpGet(base: string, session: string, lastEventId?: string): Promise<Response> {
  return fetch(`${base}/mcp`, {
    headers: {
      accept: "text/event-stream",
      "mcp-protocol-version": SESSION_VERSION,
      "mcp-session-id": session,
      ...(lastEventId ? { "last-event-id": lastEventId } : {}),
    },
  });
}

/** `initialize` on `first`, `notifications/initialized` on `second`; the session id. */
export async function openSession(first: string, second: string, capabilities: Loose = {}): Promise<string> {
  const res = await mcpPost(first, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: SESSION_VERSION,
      capabilities,
      clientInfo: { name: "replica-test", version: "1" },
    },
  });
  if (res.status !== 200) throw new Error(`initialize answered ${res.status}: ${await res.text()}`);
  const id = res.headers.get("mcp-session-id") as string;
  await res.body?.cancel();
  const ack = await mcpPost(second, { jsonrpc: "2.0", method: "notifications/initialized" }, id);
  if (ack.status !== 202) throw new Error(`notifications/initialized answered ${ack.status}`);
  return id;
}

/**
 * An SSE response read bit by bit: `until` reads on until a condition holds,
 * the stream ends (`ended`), or `timeoutMs` pass without it (`timedOut`).
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  ended = false;
  timedOut = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";
  private pending: Promise<{ done: boolean; value?: Uint8Array | undefined }> | undefined;

  constructor(res: Response) {
    this.reader = (res.body as ReadableStream<Uint8Array>).getReader();
  }

  async until(done: (events: SseEvent[]) => boolean, timeoutMs = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.events) && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.timedOut = true;
        break;
      }
      this.pending ??= this.reader.read().catch(() => ({ done: true, value: undefined }));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), left);
      });
      const read = await Promise.race([this.pending, late]);
      clearTimeout(timer);
      if (read === "late") continue;
      this.pending = undefined;
      if (read.done) {
        this.ended = true;
        break;
      }
      this.buffer += this.decoder.decode(read.value, { stream: true });
      for (let cut = this.buffer.indexOf("\n\n"); cut >= 0; cut = this.buffer.indexOf("\n\n")) {
        const frame = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 2);
        let id: string | undefined;
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data.trim()) this.events.push({ ...(id ? { id } : {}), data: JSON.parse(data) });
      }
    }
    return this.events;
  }

  /** The id of the last event read that had one. */
  get lastId(): string | undefined {
    return this.events.filter((e) => e.id).at(-1)?.id;
  }

  /** Leaves: the connection is closed as a client that goes away would. */
  close(): void {
    void this.reader.cancel().catch(() => {});
  }
}

/** Reads a whole SSE response until `until` holds, then leaves. */
export async function readEvents(res: Response, until: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const reader = new SseReader(res);
  const events = await reader.until(until);
  reader.close();
  return events;
}

/** The progress values of `notifications/progress` events, in order. */
export const progressOf = (events: SseEvent[]): number[] =>
  events
    .filter((e) => e.data?.method === "notifications/progress")
    .map((e) => e.data.params.progress as number);

/** The response to request `id` among the events. */
export const responseOf = (events: SseEvent[], id: number): SseEvent | undefined =>
  events.find((e) => e.data?.id === id && !e.data.method);

/** The `n` of each `notifications/resources/updated` URI (`…?n=<n>`), in order. */
export const updatesOf = (events: SseEvent[]): number[] =>
  events
    .filter((e) => e.data?.method === "notifications/resources/updated")
    .map((e) => Number(new URL(e.data.params.uri).searchParams.get("n")));
