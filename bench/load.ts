import { Agent, request as httpRequest } from "node:http";
import autocannon from "autocannon";

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
    rps: result.requests.total / opts.seconds,
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
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          agent,
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            ...opts.headers,
          },
        },
        (res) => {
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end(opts.body);
    });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  agent.destroy();
  return median(samples);
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
