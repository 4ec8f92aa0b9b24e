// `npm run bench`: the gateway against baselines measured in the same run, interleaved rounds, medians.
// Servers under test run pinned to CPU 0; the backend and this load generator to CPU 1.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { credentials } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { InventoryServiceClient } from "../gen/grpc-js/mcpengine/testing/v1/catalog.js";
import {
  directStream,
  firstEventLatency,
  median,
  openIdleSse,
  postOnce,
  sequentialLatency,
  streamRelay,
  type Throughput,
  throughput,
} from "./load.js";
import { type Child, startChild } from "./proc.js";
import { measureProxies, type ProxyFigures } from "./proxy.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 32;
const LATENCY_SAMPLES = 2_000;
const AUDIENCE = "http://127.0.0.1/mcp";

const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 4);
const SOAK_REQUESTS = Number(process.env.BENCH_SOAK ?? 100_000);
const IDLE_SESSIONS = 1_000;
const STREAM_CALLS = 200;
const STREAM_MESSAGES = 100;
/** Concurrent calls of the large-reply runs (also the calls in flight the peak RSS is divided by). */
const LARGE_CONNECTIONS = 8;
/** The large reply whose run samples the gateway's RSS, and how often. */
const LARGE_RSS_BYTES = 1_048_576;
const RSS_SAMPLE_MS = 20;
/** Alternating 1 s slices per interleaved ratio (each of the two targets gets this many). */
const SLICE_PAIRS = Number(process.env.BENCH_SLICES ?? 16);
/**
 * Measured stdio round trips through each proxy (and direct), interleaved. `BENCH_PROXY_PROF=<dir>`
 * also writes a `--cpu-prof` profile of each proxy there.
 */
const PROXY_CALLS = Number(process.env.BENCH_PROXY_CALLS ?? 2_000);

/** A tools/call without protocol metadata (B0, B2, P and session-era requests). */
const plainCall = (name: string, args: object, meta: object = {}) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name, arguments: args, _meta: meta },
  });
/** A 2026-07-28 (stateless) tools/call: `_meta` and the headers that mirror the body. */
const statelessCall = (name: string, args: object, meta: object = {}) =>
  plainCall(name, args, {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    ...meta,
  });
const statelessHeaders = (name: string) => ({
  "mcp-protocol-version": "2026-07-28",
  "mcp-method": "tools/call",
  "mcp-name": name,
});
const SMALL = { sku: "A1" };
const callBody = plainCall("inv_get_http_item", SMALL);
const statelessBody = statelessCall("inv_get_http_item", SMALL);

interface Target {
  name: string;
  child: Child;
  body: string;
  headers?: Record<string, string>;
  nextAuthorization?: () => string;
  /** The reply must be an SSE stream. */
  sse?: boolean;
  rps: number[];
  cpuPerCall: number[];
  p50: number[];
}

async function main(): Promise<void> {
  const backend = await startChild("backend", "./backend.ts", {}, 1);
  const BACKEND = `127.0.0.1:${backend.port}`;

  // A JWKS endpoint standing in for the IdP; tokens are ES256 (cheap to mint in bulk).
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256" };
  const jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  const issuer = "https://idp.bench";
  const mint = (i: number) =>
    new SignJWT({ scope: "inventory.read", n: i })
      .setProtectedHeader({ alg: "ES256", kid: "bench" })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject("bench-user")
      .setExpirationTime("1h")
      .sign(privateKey);
  const reused = await mint(0);
  const fresh: string[] = [];
  for (let i = 1; i <= 60_000; i++) fresh.push(await mint(i));
  let next = 0;

  const authEnv = { BACKEND, AUTH_JWKS: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: AUDIENCE };
  const targets: Target[] = [];
  const add = async (
    name: string,
    script: string | Child,
    env: Record<string, string>,
    extra: Partial<Target> = {},
  ) => {
    const child = typeof script === "string" ? await startChild(name, script, env, 0) : script;
    const target: Target = { name, child, body: callBody, rps: [], cpuPerCall: [], p50: [], ...extra };
    targets.push(target);
    return target;
  };
  const gw = statelessHeaders("inv_get_http_item");
  await add("B0 node:http fixed reply", "./servers/b0-http.ts", {});
  const B2 = await add("B2 node:http + one gRPC hop", "./servers/b2-passthrough.ts", { BACKEND });
  const B3 = await add(
    "B3 B2 + JSON-RPC parse and ProtoJSON both ways (the least a translator does)",
    "./servers/b3-minimal.ts",
    { BACKEND },
    { body: statelessBody, headers: gw },
  );
  const P = await add("P official SDK server", "./servers/sdk-server.ts", { BACKEND });
  const G = await add(
    "G gateway, 2026-07-28",
    "./servers/gateway.ts",
    { BACKEND },
    { body: statelessBody, headers: gw },
  );
  const GO = await add(
    "GO gateway, 2026-07-28, metrics and tracing off",
    "./servers/gateway.ts",
    { BACKEND, OBSERVE: "off" },
    { body: statelessBody, headers: gw },
  );
  const session = await openSession(G.child.port);
  const GS = await add(
    "GS gateway, 2025-11-25 session",
    G.child,
    {},
    {
      headers: { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
    },
  );
  // The same small call answered as an SSE stream: a server-streaming RPC returning one message,
  // relayed as a progress event before the result (the gateway answers plain unary calls with JSON).
  const GE = await add(
    "GE gateway, 2026-07-28, SSE reply (one 1 KiB stream message)",
    G.child,
    {},
    {
      body: statelessCall("inv_tail_item", { sku: "S", count: 1 }, { progressToken: "p" }),
      headers: statelessHeaders("inv_tail_item"),
      sse: true,
    },
  );
  // The same session-era call with sessions on Redis (another replica could serve each request).
  const redis = await redisForBench();
  const GR = redis
    ? await add("GR gateway, 2025-11-25 session on Redis", "./servers/gateway.ts", { BACKEND, REDIS: redis })
    : undefined;
  if (GR) {
    GR.headers = {
      "mcp-session-id": await openSession(GR.child.port),
      "mcp-protocol-version": "2025-11-25",
    };
  } else process.stderr.write("GR skipped: no Redis at REDIS_URL (default redis://127.0.0.1:6379)\n");
  // Separate processes: the fresh-token run fills its verified-token cache with 60k entries, and a
  // heap that size slows every later call of the process it lives in.
  const GAchild = await startChild("GA", "./servers/gateway.ts", authEnv, 0);
  const GFchild = await startChild("GF", "./servers/gateway.ts", authEnv, 0);
  // A separate gateway for the memory figures, so earlier load does not blur its RSS.
  const M = await startChild("M", "./servers/gateway.ts", { BACKEND }, 0);
  const GA = await add(
    "GA gateway + auth, reused token",
    GAchild,
    {},
    {
      body: statelessBody,
      headers: { ...gw, authorization: `Bearer ${reused}` },
    },
  );
  await add(
    "GF gateway + auth, fresh token per call",
    GFchild,
    {},
    {
      body: statelessBody,
      headers: gw,
      nextAuthorization: () => `Bearer ${fresh[next++ % fresh.length]}`,
    },
  );

  // Check each target answers the call correctly before measuring it.
  for (const t of targets) {
    const auth = t.headers?.authorization ?? t.nextAuthorization?.();
    const res = await fetch(`http://127.0.0.1:${t.child.port}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...t.headers,
        ...(auth ? { authorization: auth } : {}),
      },
      body: t.body,
    });
    const text = await res.text();
    const sse = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
    if (
      res.status !== 200 ||
      !text.includes('"structuredContent"') ||
      text.includes('"isError":true') ||
      sse !== (t.sse ?? false)
    ) {
      throw new Error(`${t.name} answered ${res.status}: ${text.slice(0, 200)}`);
    }
  }

  // B1: direct gRPC unary calls, sequential, from this process.
  const grpc = new InventoryServiceClient(BACKEND, credentials.createInsecure());
  const b1: number[] = [];
  const grpcLatency = async () => {
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const start = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) =>
        grpc.getHttpItem({ sku: "A1" }, (err) => (err ? reject(err) : resolve())),
      );
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return median(samples);
  };

  // Warm-up: every target serves a few seconds of the same load first, so the JIT has compiled each
  // process's paths (auth, sessions) before anything is measured.
  for (const t of targets) {
    await throughput({
      url: `http://127.0.0.1:${t.child.port}/mcp`,
      body: t.body,
      connections: CONNECTIONS,
      seconds: WARMUP_SECONDS,
      ...(t.headers ? { headers: t.headers } : {}),
      ...(t.nextAuthorization ? { nextAuthorization: t.nextAuthorization } : {}),
    });
  }

  for (let round = 1; round <= ROUNDS; round++) {
    b1.push(await grpcLatency());
    for (const t of targets) {
      const url = `http://127.0.0.1:${t.child.port}/mcp`;
      const load = {
        url,
        body: t.body,
        connections: CONNECTIONS,
        ...(t.headers ? { headers: t.headers } : {}),
        ...(t.nextAuthorization ? { nextAuthorization: t.nextAuthorization } : {}),
      };
      await throughput({ ...load, seconds: 1 }); // warm-up
      const cpu0 = t.child.cpuSeconds();
      const r = await throughput({ ...load, seconds: SECONDS });
      const cpu1 = t.child.cpuSeconds();
      if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} failed requests`);
      t.rps.push(r.rps);
      t.cpuPerCall.push(((cpu1 - cpu0) / r.requests) * 1e6);
      if (!t.nextAuthorization) {
        t.p50.push(
          await sequentialLatency({
            url,
            body: t.body,
            count: LATENCY_SAMPLES,
            ...(t.headers ? { headers: t.headers } : {}),
          }),
        );
      }
      process.stderr.write(
        `round ${round} ${t.name}: ${r.rps.toFixed(0)} req/s, ${(t.cpuPerCall.at(-1) ?? 0).toFixed(0)} µs CPU/call\n`,
      );
    }
  }
  // Added latency, interleaved: one direct gRPC call, then one gateway call, alternating, so that
  // both see the same machine state (B1 timed alone in a block runs faster than between gateway
  // calls). The figure is p50 of the gateway calls − p50 of the direct ones; the median of the
  // per-pair differences is recorded beside it.
  const gAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const gUrl = new URL(`http://127.0.0.1:${G.child.port}/mcp`);
  const directTimes: number[] = [];
  const gatewayTimes: number[] = [];
  const pairs: number[] = [];
  for (let i = 0; i < 2 * LATENCY_SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) =>
      grpc.getHttpItem({ sku: "A1" }, (err) => (err ? reject(err) : resolve())),
    );
    const t1 = process.hrtime.bigint();
    await postOnce(gAgent, gUrl, statelessBody, gw);
    const t2 = process.hrtime.bigint();
    directTimes.push(Number(t1 - t0) / 1e6);
    gatewayTimes.push(Number(t2 - t1) / 1e6);
    pairs.push(Number(t2 - t1 - (t1 - t0)) / 1e6);
  }
  gAgent.destroy();
  const addedP50 = median(gatewayTimes) - median(directTimes);
  const pairedMedian = median(pairs);

  // The stdio proxy: a host's round trip through ours and through mcp-remote to G, against the
  // same call POSTed directly, interleaved (bench/proxy.ts). The proxies run on CPU 0 like the servers.
  const proxy = await measureProxies({
    url: gUrl.href,
    tool: "inv_get_http_item",
    args: SMALL,
    calls: PROXY_CALLS,
    warmup: 1_500,
    blocks: 4,
    maxSeconds: 120,
    cpu: 0,
    ...(process.env.BENCH_PROXY_PROF ? { profileDir: process.env.BENCH_PROXY_PROF } : {}),
  });
  for (const f of [proxy.ours, proxy.remote]) {
    process.stderr.write(
      `${f.name}: p50 ${f.p50Ms.toFixed(3)} ms (direct ${proxy.directP50Ms.toFixed(3)}), ${f.cpuPerCallUs.toFixed(0)} µs CPU/call (blocks ${f.cpuPerCallBlocksUs.join(", ")})\n`,
    );
  }

  // Auth cost, interleaved: short alternating slices of auth off (G) and a reused token (GA).
  const sliceLoad = (t: Target) => ({
    url: `http://127.0.0.1:${t.child.port}/mcp`,
    body: t.body,
    connections: CONNECTIONS,
    seconds: 1,
    ...(t.headers ? { headers: t.headers } : {}),
  });
  /** Requests of `b` over requests of `a` in alternating 1 s slices. */
  const interleaved = async (a: Target, b: Target): Promise<number> => {
    let ra = 0;
    let rb = 0;
    for (let i = 0; i < SLICE_PAIRS; i++) {
      for (const t of [a, b]) {
        const r = await throughput(sliceLoad(t));
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} failed requests`);
        if (t === a) ra += r.requests;
        else rb += r.requests;
      }
    }
    return rb / ra;
  };
  /**
   * CPU per call of `b` over CPU per call of `a` in alternating 1 s slices. The slices run one at a
   * time, so targets sharing a process (G, GS, GE) each own its CPU during their own slices.
   */
  const interleavedCpu = async (a: Target, b: Target): Promise<number> => {
    const sums = new Map<Target, { cpu: number; requests: number }>([
      [a, { cpu: 0, requests: 0 }],
      [b, { cpu: 0, requests: 0 }],
    ]);
    for (let i = 0; i < SLICE_PAIRS; i++) {
      for (const t of [a, b]) {
        const cpu0 = t.child.cpuSeconds();
        const r = await throughput(sliceLoad(t));
        const cpu1 = t.child.cpuSeconds();
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} failed requests`);
        const sum = sums.get(t) as { cpu: number; requests: number };
        sum.cpu += cpu1 - cpu0;
        sum.requests += r.requests;
      }
    }
    const perCall = (t: Target) => {
      const sum = sums.get(t) as { cpu: number; requests: number };
      return sum.cpu / sum.requests;
    };
    return perCall(b) / perCall(a);
  };
  const authRatio = await interleaved(G, GA);
  const redisRatio = GR ? await interleaved(GS, GR) : undefined;
  const b2Ratio = await interleaved(B2, G);
  // The floor: how far the least possible translator gets against B2, and the gateway against it.
  const b3Ratio = await interleaved(B2, B3);
  const gOverB3 = await interleaved(B3, G);
  // The server is pinned to one CPU and saturated: throughput is the inverse of CPU per call.
  const observeRatio = await interleaved(GO, G);
  // The SSE reply and the session cost against the plain stateless call, in the same process: CPU
  // per call rather than throughput, since G, GS and GE share one gateway.
  const geCpuRatio = await interleavedCpu(G, GE);
  const gsCpuRatio = await interleavedCpu(G, GS);
  process.stderr.write(
    `interleaved: added p50 ${addedP50.toFixed(3)} ms (median of pair differences ${pairedMedian.toFixed(3)}); auth interleaved ratio ${authRatio.toFixed(3)}; G/B2 interleaved ${b2Ratio.toFixed(3)}, B3/B2 ${b3Ratio.toFixed(3)}, G/B3 ${gOverB3.toFixed(3)}; G/GO (observability) interleaved ${observeRatio.toFixed(3)}; CPU per call GE/G ${geCpuRatio.toFixed(3)}, GS/G ${gsCpuRatio.toFixed(3)}\n`,
  );

  // Large replies: the gateway against P, same backend reply, same concurrency.
  // During the measured 1 MiB gateway run its RSS is sampled too: the peak over the RSS just before,
  // per call in flight, is what one large reply costs in memory while it is relayed.
  const large: { size: string; gateway: number; sdk: number }[] = [];
  let largeRss: { beforeBytes: number; peakBytes: number } | undefined;
  for (const [size, bytes] of [
    ["64 KiB", 65_536],
    ["1 MiB", 1_048_576],
  ] as const) {
    const args = { sku: `big:${bytes}` };
    const run = (t: Target, body: string) =>
      throughput({
        url: `http://127.0.0.1:${t.child.port}/mcp`,
        body,
        connections: LARGE_CONNECTIONS,
        seconds: SECONDS,
        ...(t.headers ? { headers: t.headers } : {}),
      });
    const runG = () => run(G, statelessCall("inv_get_http_item", args));
    await runG();
    let g: Throughput;
    if (bytes === LARGE_RSS_BYTES) {
      const sampled = await withPeakRss(G.child, runG);
      g = sampled.result;
      largeRss = sampled;
    } else g = await runG();
    await run(P, plainCall("inv_get_http_item", args));
    const p = await run(P, plainCall("inv_get_http_item", args));
    if (g.errors + p.errors > 0)
      throw new Error(`large reply ${size}: ${g.errors + p.errors} failed requests`);
    large.push({ size, gateway: g.rps, sdk: p.rps });
    const rss =
      bytes === LARGE_RSS_BYTES && largeRss
        ? `; gateway peak RSS ${mib(peakRssPerCall(largeRss)).toFixed(1)} MiB per in-flight call (RSS before ${mib(largeRss.beforeBytes).toFixed(1)} MiB)`
        : "";
    process.stderr.write(
      `large ${size}: gateway ${g.rps.toFixed(0)} req/s, P ${p.rps.toFixed(0)} req/s${rss}\n`,
    );
  }
  if (!largeRss) throw new Error("the 1 MiB large-reply run sampled no RSS");
  const largeRssPerCall = peakRssPerCall(largeRss);

  // Server-streaming relay: 100 × 1 KiB messages as progress events over SSE, against reading the
  // same stream directly with grpc-js.
  const tail = { sku: "S", count: STREAM_MESSAGES };
  const streamCall = {
    url: `http://127.0.0.1:${G.child.port}/mcp`,
    body: statelessCall("inv_tail_item", tail, { progressToken: "p" }),
    headers: statelessHeaders("inv_tail_item"),
  };
  await streamRelay({ ...streamCall, calls: 20, concurrency: 4, expectEvents: STREAM_MESSAGES });
  const relay = await streamRelay({
    ...streamCall,
    calls: STREAM_CALLS,
    concurrency: 4,
    expectEvents: STREAM_MESSAGES,
  });
  const direct = await directStream(grpc, tail, STREAM_CALLS, 4);
  const ttfe = await firstEventLatency({ ...streamCall, count: 200 });
  process.stderr.write(
    `stream relay: ${relay.eventsPerSecond.toFixed(0)} events/s via gateway, ${direct.toFixed(0)} direct; first event ${ttfe.toFixed(3)} ms\n`,
  );
  grpc.close();

  // Memory of idle 2024-11-05 sessions, and heap growth over a soak.
  const mUrl = `http://127.0.0.1:${M.port}`;
  await throughput({ url: `${mUrl}/mcp`, body: statelessBody, headers: gw, connections: 4, seconds: 1 });
  await openIdleSse(`${mUrl}/sse`, 50).then((warm) => warm.close());
  await new Promise((r) => setTimeout(r, 300));
  const heap0 = await M.heapBytes();
  const rss0 = M.rssBytes();
  const idle = await openIdleSse(`${mUrl}/sse`, IDLE_SESSIONS);
  await new Promise((r) => setTimeout(r, 500));
  const heap1 = await M.heapBytes();
  const rss1 = M.rssBytes();
  idle.close();
  const perSessionHeap = (heap1 - heap0) / IDLE_SESSIONS;
  const perSessionRss = (rss1 - rss0) / IDLE_SESSIONS;
  process.stderr.write(
    `idle sessions: ${(perSessionHeap / 1024).toFixed(1)} KiB heap, ${(perSessionRss / 1024).toFixed(1)} KiB RSS each\n`,
  );
  await new Promise((r) => setTimeout(r, 500));
  const soakLoad = {
    url: `http://127.0.0.1:${G.child.port}/mcp`,
    body: statelessBody,
    headers: gw,
    connections: CONNECTIONS,
  };
  await throughput({ ...soakLoad, seconds: 2 });
  const soakHeap0 = await G.child.heapBytes();
  const soak = await throughput({ ...soakLoad, seconds: 120, amount: SOAK_REQUESTS });
  const soakHeap1 = await G.child.heapBytes();
  if (soak.errors > 0) throw new Error(`soak: ${soak.errors} failed requests`);
  const heapGrowth = (soakHeap1 - soakHeap0) / soakHeap0;
  process.stderr.write(
    `soak: ${soak.requests} requests, heap ${(soakHeap0 / 2 ** 20).toFixed(1)} → ${(soakHeap1 / 2 ** 20).toFixed(1)} MiB\n`,
  );

  const m = (t: Target, k: "rps" | "cpuPerCall" | "p50") => median(t[k]);
  const b1p50 = median(b1);
  const checks = [
    {
      target: "gateway CPU per call ≤ 1/10 of P",
      value: m(G, "cpuPerCall") / m(P, "cpuPerCall"),
      limit: 0.1,
      lower: true,
    },
    { target: "gateway throughput ≥ 3× P", value: m(G, "rps") / m(P, "rps"), limit: 3, lower: false },
    { target: "gateway throughput ≥ 0.85× B2 (interleaved)", value: b2Ratio, limit: 0.85, lower: false },
    { target: "GE CPU per call ≤ 1.25× G (interleaved)", value: geCpuRatio, limit: 1.25, lower: true },
    { target: "GS CPU per call ≤ 1.25× G (interleaved)", value: gsCpuRatio, limit: 1.25, lower: true },
    {
      target: "added p50 latency over B1 ≤ 0.15 ms (interleaved)",
      value: addedP50,
      limit: 0.15,
      lower: true,
    },
    {
      target: "our proxy CPU per call ≤ 0.5× mcp-remote's (interleaved)",
      value: proxy.ours.cpuPerCallUs / proxy.remote.cpuPerCallUs,
      limit: 0.5,
      lower: true,
    },
    {
      target: "our proxy added p50 over a direct HTTP call ≤ 0.3 ms (interleaved)",
      value: proxy.ours.addedP50Ms,
      limit: 0.3,
      lower: true,
    },
    {
      target: "metrics + tracing on: throughput ≥ 0.95× off, i.e. ≤ 5% CPU per call (interleaved)",
      value: observeRatio,
      limit: 0.95,
      lower: false,
    },
    {
      target: "auth, reused token: throughput ≥ 0.9× auth off (interleaved)",
      value: authRatio,
      limit: 0.9,
      lower: false,
    },
    {
      target: "stream relay events/s ≥ 0.85× direct gRPC read",
      value: relay.eventsPerSecond / direct,
      limit: 0.85,
      lower: false,
    },
    ...large.map((l) => ({
      target: `large reply ${l.size}: gateway ≥ 1.5× P`,
      value: l.gateway / l.sdk,
      limit: 1.5,
      lower: false,
    })),
    {
      target: "memory per idle 2024-11-05 session ≤ 20 KiB (RSS)",
      value: perSessionRss / 1024,
      limit: 20,
      lower: true,
    },
    { target: "heap growth over the soak < 5%", value: heapGrowth * 100, limit: 5, lower: true },
    ...(GR && redisRatio !== undefined
      ? [
          {
            target: "sessions on Redis: GS throughput ≥ 0.6× in memory (interleaved)",
            value: redisRatio,
            limit: 0.6,
            lower: false,
          },
        ]
      : []),
  ].map((c) => ({ ...c, pass: c.lower ? c.value <= c.limit : c.value >= c.limit }));

  const rows = targets.map((t) => ({
    name: t.name,
    rps: Math.round(m(t, "rps")),
    cpuPerCallUs: Math.round(m(t, "cpuPerCall")),
    p50Ms: t.p50.length > 0 ? Number(m(t, "p50").toFixed(3)) : null,
  }));
  const proxyRow = (f: ProxyFigures) => ({
    name: f.name,
    cpuPerCallUs: Math.round(f.cpuPerCallUs),
    p50Ms: Number(f.p50Ms.toFixed(3)),
    addedP50Ms: Number(f.addedP50Ms.toFixed(3)),
    pairedAddedMs: Number(f.pairedAddedMs.toFixed(3)),
  });
  const proxyRows = [proxyRow(proxy.ours), proxyRow(proxy.remote)];
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    b1p50Ms: Number(b1p50.toFixed(3)),
    addedP50Ms: Number(addedP50.toFixed(3)),
    addedPairedMedianMs: Number(pairedMedian.toFixed(3)),
    authInterleavedRatio: Number(authRatio.toFixed(3)),
    b2InterleavedRatio: Number(b2Ratio.toFixed(3)),
    b3OverB2InterleavedRatio: Number(b3Ratio.toFixed(3)),
    gOverB3InterleavedRatio: Number(gOverB3.toFixed(3)),
    observeInterleavedRatio: Number(observeRatio.toFixed(3)),
    observeCpuPerCallRatio: Number((m(G, "cpuPerCall") / m(GO, "cpuPerCall")).toFixed(3)),
    geCpuInterleavedRatio: Number(geCpuRatio.toFixed(3)),
    gsCpuInterleavedRatio: Number(gsCpuRatio.toFixed(3)),
    ...(GR && redisRatio !== undefined
      ? {
          redis: {
            interleavedRatio: Number(redisRatio.toFixed(3)),
            cpuPerCallRatio: Number((m(GR, "cpuPerCall") / m(GS, "cpuPerCall")).toFixed(3)),
          },
        }
      : {}),
    targets: rows,
    proxy: { calls: proxy.calls, directP50Ms: Number(proxy.directP50Ms.toFixed(3)), rows: proxyRows },
    checks,
    gatewayCpuPerCallUs: Math.round(m(G, "cpuPerCall")),
    largeReplies: large.map((l) => ({ ...l, ratio: Number((l.gateway / l.sdk).toFixed(2)) })),
    largeReplyPeakRssPerCallMiB: Number(mib(largeRssPerCall).toFixed(2)),
    largeReplyRssBeforeMiB: Number(mib(largeRss.beforeBytes).toFixed(1)),
    stream: {
      gatewayEventsPerSecond: Math.round(relay.eventsPerSecond),
      directEventsPerSecond: Math.round(direct),
      firstEventMs: Number(ttfe.toFixed(3)),
    },
    idleSession: {
      heapKiB: Number((perSessionHeap / 1024).toFixed(1)),
      rssKiB: Number((perSessionRss / 1024).toFixed(1)),
    },
    soak: { requests: soak.requests, heapBefore: soakHeap0, heapAfter: soakHeap1 },
  };
  const table = [
    "| target | req/s | CPU µs/call | p50 ms (c=1) |",
    "| --- | ---: | ---: | ---: |",
    `| B1 direct gRPC unary (grpc-js client) | | | ${b1p50.toFixed(3)} |`,
    ...rows.map((r) => `| ${r.name} | ${r.rps} | ${r.cpuPerCallUs} | ${r.p50Ms ?? ""} |`),
    `| X0 direct HTTP POST of X1/X2's call (session, from the load process) | | | ${proxy.directP50Ms.toFixed(3)} |`,
    ...proxyRows.map((r) => `| ${r.name} | | ${r.cpuPerCallUs} | ${r.p50Ms} |`),
    "",
    `Stdio proxies (${proxy.calls} round trips each, one in flight, interleaved with direct POSTs; CPU is the proxy process's alone): added p50 over the direct call ${proxyRows.map((r) => `${r.name.split(" (")[0]} ${r.addedP50Ms.toFixed(3)} ms`).join(", ")}.`,
    "",
    "| large reply | gateway req/s | P req/s | ratio |",
    "| --- | ---: | ---: | ---: |",
    ...large.map(
      (l) =>
        `| ${l.size} | ${l.gateway.toFixed(0)} | ${l.sdk.toFixed(0)} | ${(l.gateway / l.sdk).toFixed(2)} |`,
    ),
    "",
    `Peak RSS per in-flight 1 MiB call: ${mib(largeRssPerCall).toFixed(2)} MiB (RSS before ${mib(largeRss.beforeBytes).toFixed(1)} MiB).`,
    "",
    `Throughput in alternating slices: G/B2 ${b2Ratio.toFixed(3)}; B3/B2 ${b3Ratio.toFixed(3)} (the least a translator does, against the bare hop); G/B3 ${gOverB3.toFixed(3)}.`,
    "",
    `Streaming relay (${STREAM_MESSAGES} × 1 KiB per call, 4 concurrent): gateway ${relay.eventsPerSecond.toFixed(0)} events/s, direct gRPC ${direct.toFixed(0)} events/s; time to first event ${ttfe.toFixed(3)} ms.`,
    `Idle 2024-11-05 sessions: ${(perSessionRss / 1024).toFixed(1)} KiB RSS, ${(perSessionHeap / 1024).toFixed(1)} KiB heap each (${IDLE_SESSIONS} sessions).`,
    ...(GR && redisRatio !== undefined
      ? [
          `Sessions on Redis (GR) against in memory (GS): throughput ${redisRatio.toFixed(2)}× (interleaved), gateway CPU per call ${(m(GR, "cpuPerCall") / m(GS, "cpuPerCall")).toFixed(2)}× (the Redis server's own CPU not counted).`,
        ]
      : []),
    `Soak: ${soak.requests} requests, heap after GC ${(soakHeap0 / 2 ** 20).toFixed(1)} → ${(soakHeap1 / 2 ** 20).toFixed(1)} MiB.`,
    "",
    "| check | ratio / value | limit | result |",
    "| --- | ---: | ---: | --- |",
    ...checks.map(
      (c) => `| ${c.target} | ${c.value.toFixed(3)} | ${c.limit} | ${c.pass ? "PASS" : "FAIL"} |`,
    ),
  ].join("\n");
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/latest.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(new URL("./results/latest.md", import.meta.url), `${table}\n`);
  process.stdout.write(`\n${table}\n`);
  track({
    date: result.date,
    commit: commitId(),
    node: process.version,
    gatewayCpuPerCallUs: result.gatewayCpuPerCallUs,
    b2CpuPerCallUs: Math.round(m(B2, "cpuPerCall")),
    sdkCpuPerCallUs: Math.round(m(P, "cpuPerCall")),
    proxyCpuPerCallUs: Math.round(proxy.ours.cpuPerCallUs),
    mcpRemoteCpuPerCallUs: Math.round(proxy.remote.cpuPerCallUs),
    checks: Object.fromEntries(checks.map((c) => [c.target, Number(c.value.toFixed(3))])),
  });

  await Promise.all([...targets.map((t) => t.child.stop()), M.stop(), backend.stop()]);
  jwks.close();
  process.exitCode = checks.every((c) => c.pass) ? 0 : 1;
}

/** One line per run in results/history.jsonl */
interface RunRecord {
  date: string;
  commit: string;
  node: string;
  gatewayCpuPerCallUs: number;
  b2CpuPerCallUs: number;
  sdkCpuPerCallUs: number;
  /** The stdio proxy's CPU per round trip, and mcp-remote's in the same run (absent before they were measured). */
  proxyCpuPerCallUs?: number;
  mcpRemoteCpuPerCallUs?: number;
  checks: Record<string, number>;
}

/**
 * Appends this run to `results/history.jsonl` and prints the gateway's CPU per
 * small call next to the previous run's, so that the figure is tracked from
 * run to run (compare it with B2's, measured alongside, on a noisy machine).
 */
function track(run: RunRecord): void {
  const file = new URL("./results/history.jsonl", import.meta.url);
  const lines = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
  const last = lines.length > 0 ? (JSON.parse(lines[lines.length - 1] ?? "{}") as RunRecord) : undefined;
  appendFileSync(file, `${JSON.stringify(run)}\n`);
  const now = `${run.gatewayCpuPerCallUs} µs (B2 ${run.b2CpuPerCallUs} µs)`;
  const before = last
    ? `; previous run ${last.gatewayCpuPerCallUs} µs (B2 ${last.b2CpuPerCallUs} µs) at ${last.commit}, ${last.date}`
    : "";
  process.stdout.write(`\nGateway CPU per small call: ${now}${before}\n`);
}

/** The checked-out commit, marked `+dirty` when the tree has changes; "unknown" outside git. */
function commitId(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync(
      "git",
      ["status", "--porcelain", "--", "src", "bench", ":(exclude)bench/results", "package.json"],
      {
        encoding: "utf8",
      },
    ).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

/**
 * Runs `run` while sampling `child`'s RSS every RSS_SAMPLE_MS; returns its result, the RSS sampled
 * just before and the highest seen (at least the one before, so the difference is never negative).
 */
async function withPeakRss<T>(
  child: Child,
  run: () => Promise<T>,
): Promise<{ result: T; beforeBytes: number; peakBytes: number }> {
  const beforeBytes = child.rssBytes();
  let peakBytes = beforeBytes;
  const sample = () => {
    peakBytes = Math.max(peakBytes, child.rssBytes());
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  try {
    const result = await run();
    sample();
    return { result, beforeBytes, peakBytes };
  } finally {
    clearInterval(timer);
  }
}

/** The peak RSS growth of a large-reply run spread over its calls in flight, in bytes. */
function peakRssPerCall(rss: { beforeBytes: number; peakBytes: number }): number {
  return (rss.peakBytes - rss.beforeBytes) / LARGE_CONNECTIONS;
}

/** Bytes in MiB. */
function mib(bytes: number): number {
  return bytes / 2 ** 20;
}

/** The Redis for the GR row (REDIS_URL, else the local default), if one answers. */
async function redisForBench(): Promise<string | undefined> {
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const { hostname, port } = new URL(url);
  const up = await new Promise<boolean>((resolve) => {
    const socket = connect(Number(port || 6379), hostname, () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
  });
  return up ? url : undefined;
}

/** Opens a 2025-11-25 session on a gateway and returns its id. */
async function openSession(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    }),
  });
  await res.text();
  const id = res.headers.get("mcp-session-id");
  if (!id) throw new Error(`initialize answered ${res.status} without a session`);
  return id;
}

await main();
