import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import autocannon from "autocannon";
import type { InventoryServiceClient } from "../gen/grpc-js/mcpengine/testing/v1/catalog.js";

/** Throughput of one target over `seconds` at `connections` concurrent requests. */
export interface Throughput {
  requests: number;
  rps: number;
  errors: number;
}

/** Drives POST requests at a target with autocannon (keep-alive, pipelining 1). */
export async function throughput(opts: {
  url: string;
  body: string;
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
  /** Stop after this many requests instead (seconds then bounds the run). */
  amount?: number;
  /** A fresh value for the Authorization header per request. */
  nextAuthorization?: () => string;
}): Promise<Throughput> {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...opts.headers,
  };
  const result = await autocannon({
    url: opts.url,
    method: "POST",
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.amount ? { amount: opts.amount } : {}),
    headers,
    body: opts.body,
    ...(opts.nextAuthorization
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                headers: { ...headers, authorization: opts.nextAuthorization?.() ?? "" },
              }),
            },
          ],
        }
      : {}),
  });
  return {
    requests: result.requests.total,
    rps: result.requests.total / (opts.amount ? result.duration : opts.seconds),
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

/** Median latency in ms of `count` sequential requests (concurrency 1). */
export async function sequentialLatency(opts: {
  url: string;
  body: string;
  headers?: Record<string, string>;
  count: number;
}): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(opts.url);
  const samples: number[] = [];
  for (let i = 0; i < opts.count; i++) {
    const start = process.hrtime.bigint();
    await postOnce(agent, u, opts.body, opts.headers ?? {});
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  agent.destroy();
  return median(samples);
}

/** One POST on a keep-alive agent, resolved when the reply has been read. */
export function postOnce(
  agent: Agent,
  url: URL,
  body: string,
  headers: Record<string, string>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    post(agent, url, body, headers, reject, (res) => {
      res.resume();
      res.on("end", resolve);
    });
  });
}

/** Sends a JSON-RPC POST that accepts JSON or SSE; the reply goes to `onResponse`. */
function post(
  agent: Agent,
  url: URL,
  body: string,
  headers: Record<string, string>,
  onError: (err: Error) => void,
  onResponse: (res: IncomingMessage) => void,
): void {
  const req = httpRequest(
    {
      agent,
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers,
      },
    },
    onResponse,
  );
  req.on("error", onError);
  req.end(body);
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Options of one POST whose reply is an SSE stream. */
interface StreamCall {
  url: string;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Runs one streaming call and counts the `notifications/progress` events of
 * its SSE reply; `onFirst` fires at the first one.
 */
function streamOnce(agent: Agent, opts: StreamCall, onFirst?: () => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    post(agent, new URL(opts.url), opts.body, opts.headers ?? {}, reject, (res) => {
      let events = 0;
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const text = tail + chunk;
        let at = text.indexOf("notifications/progress");
        while (at >= 0) {
          events++;
          if (events === 1) onFirst?.();
          at = text.indexOf("notifications/progress", at + 1);
        }
        tail = text.slice(-32);
        // A marker split across chunks is counted once: keep only what cannot contain a whole one.
        if (tail.includes("notifications/progress")) tail = "";
      });
      res.on("end", () => resolve(events));
      res.on("error", reject);
    });
  });
}

/** Events per second relayed over SSE by `calls` streaming calls at `concurrency`. */
export async function streamRelay(
  opts: StreamCall & { calls: number; concurrency: number; expectEvents: number },
): Promise<{ eventsPerSecond: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let next = 0;
  let events = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.calls) {
        next++;
        const n = await streamOnce(agent, opts);
        if (n !== opts.expectEvents)
          throw new Error(`expected ${opts.expectEvents} progress events, got ${n}`);
        events += n;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  return { eventsPerSecond: events / seconds };
}

/** Median time in ms from sending a streaming call to its first progress event (sequential). */
export async function firstEventLatency(opts: StreamCall & { count: number }): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  for (let i = 0; i < opts.count; i++) {
    const start = process.hrtime.bigint();
    let first = 0;
    await streamOnce(agent, opts, () => {
      first = Number(process.hrtime.bigint() - start) / 1e6;
    });
    samples.push(first);
  }
  agent.destroy();
  return median(samples);
}

/** Opens `count` idle 2024-11-05 SSE sessions (`GET /sse`); resolves once each has its endpoint event. */
export async function openIdleSse(url: string, count: number): Promise<{ close(): void }> {
  const u = new URL(url);
  const requests: ReturnType<typeof httpRequest>[] = [];
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: u.hostname, port: u.port, path: u.pathname, headers: { accept: "text/event-stream" } },
        (res) => {
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            if (chunk.includes("event: endpoint")) resolve();
          });
          res.on("error", () => {});
        },
      );
      req.on("error", reject);
      req.end();
      requests.push(req);
    });
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, open));
  }
  return {
    close() {
      for (const r of requests) r.destroy();
    },
  };
}

/** Events per second reading TailItem streams directly with grpc-js. */
export async function directStream(
  client: InventoryServiceClient,
  request: { sku: string; count: number },
  calls: number,
  concurrency: number,
): Promise<number> {
  let next = 0;
  let events = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        next++;
        await new Promise<void>((resolve, reject) => {
          const call = client.tailItem(request);
          call.on("data", () => {
            events++;
          });
          call.on("end", resolve);
          call.on("error", reject);
        });
      }
    }),
  );
  return events / (Number(process.hrtime.bigint() - start) / 1e9);
}
