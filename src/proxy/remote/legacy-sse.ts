import { type JsonRpcMessage, type Remote, RemoteError, type RemoteOptions } from "../types.js";
import { createHttpClient, discard, mediaType, remoteError } from "./http.js";
import { parseMessages, shapeOf } from "./messages.js";
import { readSse } from "./sse-reader.js";

/** Options of {@link createLegacySseRemote}. */
export interface LegacySseRemoteOptions extends RemoteOptions {
  /** How long the server may take to announce its message endpoint (ms). Default 10,000. */
  readonly endpointTimeoutMs?: number;
}

/**
 * HTTP+SSE (MCP 2024-11-05 basic/transports): a GET opens the SSE stream,
 * whose `endpoint` event names the URL (relative to the stream's) to POST each
 * host message to; every `message` event carries one server message. The
 * stream is opened by the first `send`. The era has no resumption: when the
 * stream ends the connection has failed (`onError`), and later sends reject.
 */
export function createLegacySseRemote(options: LegacySseRemoteOptions): Remote {
  const http = createHttpClient(options);
  const log = options.log ?? (() => {});
  const life = new AbortController();
  let endpoint: Promise<URL> | undefined;
  let failed: Error | undefined;

  /** Where to POST: the announced URL, which must be on the stream's origin (our token goes there). */
  function endpointOf(data: string): URL {
    let url: URL;
    try {
      url = new URL(data.trim(), options.url);
    } catch {
      throw new RemoteError("the server announced an invalid message endpoint");
    }
    if (url.origin !== options.url.origin) {
      throw new RemoteError(`the server announced a message endpoint on another origin (${url.origin})`);
    }
    return url;
  }

  function deliver(data: string): void {
    const parsed = parseMessages(data);
    if ("error" in parsed) {
      log(`dropped an SSE event: ${parsed.error}`);
      return;
    }
    for (const m of parsed.messages) options.onMessage(m);
  }

  /** Opens the stream and waits for the endpoint; a failure here leaves the remote usable for another try. */
  async function open(): Promise<URL> {
    const stream = new AbortController();
    const stop = () => stream.abort();
    life.signal.addEventListener("abort", stop, { once: true });
    let res: Response;
    try {
      res = await http(options.url, {
        method: "GET",
        headers: { accept: "text/event-stream" },
        signal: stream.signal,
      });
      if (!res.ok) throw await remoteError(res, "GET of the SSE stream");
      if (mediaType(res) !== "text/event-stream") {
        await discard(res);
        throw new RemoteError("GET of the SSE stream: the answer is not text/event-stream", res.status);
      }
    } catch (err) {
      life.signal.removeEventListener("abort", stop);
      throw err;
    }
    return new Promise<URL>((resolve, reject) => {
      let announced = false;
      const timeoutMs = options.endpointTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        reject(new RemoteError(`the server announced no message endpoint within ${timeoutMs} ms`));
        stream.abort();
      }, timeoutMs);
      timer.unref();
      (async () => {
        for await (const event of readSse(res)) {
          if (event.event === "endpoint") {
            if (announced) continue; // the endpoint is fixed for the life of the stream
            const url = endpointOf(event.data);
            announced = true;
            clearTimeout(timer);
            resolve(url);
          } else if ((event.event === undefined || event.event === "message") && event.data !== "") {
            deliver(event.data);
          }
        }
        throw new RemoteError("the server closed the SSE stream");
      })().catch((err: unknown) => {
        clearTimeout(timer);
        life.signal.removeEventListener("abort", stop);
        if (life.signal.aborted) return;
        const error = err instanceof Error ? err : new RemoteError(String(err));
        if (!announced) return reject(error);
        // The server's session lived on this stream: it is gone, and nothing can resume it.
        failed = error;
        options.onError?.(error);
      });
    });
  }

  return {
    era: "legacy-sse",
    async send(message: JsonRpcMessage) {
      if (failed) throw new RemoteError(`the SSE stream failed: ${failed.message}`);
      if (life.signal.aborted) throw new RemoteError("the connection to the server is closed");
      endpoint ??= open();
      let url: URL;
      try {
        url = await endpoint;
      } catch (err) {
        endpoint = undefined; // e.g. a login was needed: the next send opens the stream again
        throw err;
      }
      const res = await http(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(message),
        signal: life.signal,
      });
      if (!res.ok) {
        const shape = shapeOf(message);
        throw await remoteError(
          res,
          shape.kind === "response" ? "POST of a response" : `POST of ${shape.method}`,
        );
      }
      await discard(res);
    },
    async close() {
      life.abort();
    },
  };
}
