// `npm run bench`: the gateway against baselines measured in the same run, interleaved rounds, medians.
// Servers under test run pinned to CPU 0; the backend and this load generator to CPU 1.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { credentials } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { InventoryServiceClient } from "../gen/grpc-js/mcpengine/testing/v1/catalog.js";
import { median, sequentialLatency, throughput } from "./load.js";
import { type Child, startChild } from "./proc.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 32;
const LATENCY_SAMPLES = 2_000;
const AUDIENCE = "http://127.0.0.1/mcp";

const callBody = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "inv_get_http_item", arguments: { sku: "A1" } },
});

interface Target {
  name: string;
  child: Child;
  headers?: Record<string, string>;
  nextAuthorization?: () => string;
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
    script: string,
    env: Record<string, string>,
    extra: Partial<Target> = {},
  ) =>
    targets.push({
      name,
      child: await startChild(name, script, env, 0),
      rps: [],
      cpuPerCall: [],
      p50: [],
      ...extra,
    });
  await add("B0 node:http fixed reply", "./servers/b0-http.ts", {});
  await add("B2 node:http + one gRPC hop", "./servers/b2-passthrough.ts", { BACKEND });
  await add("P official SDK server", "./servers/sdk-server.ts", { BACKEND });
  await add("G gateway", "./servers/gateway.ts", { BACKEND });
  await add("GA gateway + auth, reused token", "./servers/gateway.ts", authEnv, {
    headers: { authorization: `Bearer ${reused}` },
  });
  await add("GF gateway + auth, fresh token per call", "./servers/gateway.ts", authEnv, {
    nextAuthorization: () => `Bearer ${fresh[next++ % fresh.length]}`,
  });

  // Check each target answers the call correctly before measuring it.
  for (const t of targets) {
    const auth = t.headers?.authorization ?? t.nextAuthorization?.();
    const res = await fetch(`http://127.0.0.1:${t.child.port}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(auth ? { authorization: auth } : {}),
      },
      body: callBody,
    });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('"structuredContent"') || text.includes('"isError":true')) {
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

  for (let round = 1; round <= ROUNDS; round++) {
    b1.push(await grpcLatency());
    for (const t of targets) {
      const url = `http://127.0.0.1:${t.child.port}/mcp`;
      const load = {
        url,
        body: callBody,
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
            body: callBody,
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
  grpc.close();

  const m = (t: Target, k: "rps" | "cpuPerCall" | "p50") => median(t[k]);
  const by = (prefix: string) => {
    const t = targets.find((x) => x.name.startsWith(`${prefix} `));
    if (!t) throw new Error(prefix);
    return t;
  };
  const [B2, P, G, GA, GF] = ["B2", "P", "G", "GA", "GF"].map(by) as [Target, Target, Target, Target, Target];
  const b1p50 = median(b1);
  const checks = [
    {
      target: "gateway CPU per call ≤ 1/5 of P",
      value: m(G, "cpuPerCall") / m(P, "cpuPerCall"),
      limit: 0.2,
      lower: true,
    },
    { target: "gateway throughput ≥ 3× P", value: m(G, "rps") / m(P, "rps"), limit: 3, lower: false },
    { target: "gateway throughput ≥ 0.6× B2", value: m(G, "rps") / m(B2, "rps"), limit: 0.6, lower: false },
    { target: "added p50 latency over B1 ≤ 0.25 ms", value: m(G, "p50") - b1p50, limit: 0.25, lower: true },
    {
      target: "auth, reused token: throughput ≥ 0.9× auth off",
      value: m(GA, "rps") / m(G, "rps"),
      limit: 0.9,
      lower: false,
    },
  ].map((c) => ({ ...c, pass: c.lower ? c.value <= c.limit : c.value >= c.limit }));

  const rows = targets.map((t) => ({
    name: t.name,
    rps: Math.round(m(t, "rps")),
    cpuPerCallUs: Math.round(m(t, "cpuPerCall")),
    p50Ms: t.p50.length > 0 ? Number(m(t, "p50").toFixed(3)) : null,
  }));
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    b1p50Ms: Number(b1p50.toFixed(3)),
    targets: rows,
    checks,
    gatewayCpuPerCallUs: Math.round(m(G, "cpuPerCall")),
    freshTokenCostRatio: Number((m(GF, "cpuPerCall") / m(GA, "cpuPerCall")).toFixed(2)),
  };
  const table = [
    "| target | req/s | CPU µs/call | p50 ms (c=1) |",
    "| --- | ---: | ---: | ---: |",
    `| B1 direct gRPC unary (grpc-js client) | | | ${b1p50.toFixed(3)} |`,
    ...rows.map((r) => `| ${r.name} | ${r.rps} | ${r.cpuPerCallUs} | ${r.p50Ms ?? ""} |`),
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

  await Promise.all([...targets.map((t) => t.child.stop()), backend.stop()]);
  jwks.close();
  process.exitCode = checks.every((c) => c.pass) ? 0 : 1;
}

await main();
