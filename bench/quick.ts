// `npm run build && node --import tsx bench/quick.ts`: CPU per small call of the gateway (2026-07-28)
// and of B2, in alternating slices — a fast check while working on the hot path (the full suite is
// `npm run bench`). With the argument `proxy` it measures only the proxy rows instead (X1, X2: our
// stdio proxy and mcp-remote in front of the gateway; `bench/proxy.ts`); with `relay`, the
// streaming relay against a direct gRPC read, alternating, with the gateway's CPU per event; with
// `large`, 64 KiB and 1 MiB replies against the official SDK server (P), alternating; with `observe`, the gateway
// against itself with metrics and tracing off (GO); with `ab <folder>`, against another build (a
// copy of an earlier `dist/`); with `many <name>=<script>[?VAR=value&…] …`, any servers (paths
// relative to bench/, environment after `?`). `BENCH_PROF=<dir>` writes a CPU profile of each.
import { credentials } from "@grpc/grpc-js";
import { InventoryServiceClient } from "../gen/grpc-js/mcpengine/testing/v1/catalog.js";
import { directStream, streamRelay, throughput } from "./load.js";
import { type Child, startChild } from "./proc.js";
import { measureProxies, type ProxyFigures } from "./proxy.js";

const SLICES = Number(process.env.QUICK_SLICES ?? 4);
/** Which call a child of `many` gets: `CALL=sse` in its spec for GE's (one streamed message, answered as SSE). */
const callOf = new Map<Child, string>();
const backend = await startChild("backend", "./backend.ts", {}, 1);
const BACKEND = `127.0.0.1:${backend.port}`;
const G = await startChild("G", "./servers/gateway.ts", { BACKEND }, 0);
try {
  if (process.argv[2] === "proxy") await proxyRows(G);
  else if (process.argv[2] === "relay") await relayRows(G, BACKEND);
  else if (process.argv[2] === "large") {
    const P = await startChild("P", "./servers/sdk-server.ts", { BACKEND }, 0);
    // `large <folder>`: another build of the gateway too (G0), in the same slices.
    const other = process.argv[3];
    const G0 = other
      ? await startChild("G0", "./servers/gateway.ts", { BACKEND, GATEWAY_DIST: other }, 0)
      : undefined;
    await largeRows([G, ...(G0 ? [G0] : [])], P);
    await Promise.all([P.stop(), G0?.stop()]);
  } else if (process.argv[2] === "observe") {
    const GO = await startChild("GO", "./servers/gateway.ts", { BACKEND, OBSERVE: "off" }, 0);
    await alternate(G, GO);
    await GO.stop();
  } else if (process.argv[2] === "many") {
    // many <name>=<script>[?ENV=v&ENV2=v] ...: any servers, alternating (experiments on the hot path).
    const children: Child[] = [];
    for (const spec of process.argv.slice(3)) {
      const eq = spec.indexOf("=");
      const [script = "", query = ""] = spec.slice(eq + 1).split("?");
      const name = eq > 0 ? spec.slice(0, eq) : script;
      const env = Object.fromEntries(new URLSearchParams(query));
      const child = await startChild(name, script, { BACKEND, ...env }, 0);
      if (env.CALL) callOf.set(child, env.CALL);
      children.push(child);
    }
    await alternate(...children);
    await Promise.all(children.map((c) => c.stop()));
  } else if (process.argv[2] === "ab") {
    // Two builds of the gateway: this one (G) against the one in the given folder (a copy of an
    // earlier `dist/`), so that a change on the hot path is measured against what it replaces.
    const other = process.argv[3];
    if (!other) throw new Error("usage: bench/quick.ts ab <folder of another build>");
    const G0 = await startChild("G0", "./servers/gateway.ts", { BACKEND, GATEWAY_DIST: other }, 0);
    await alternate(G, G0);
    await G0.stop();
  } else {
    const B2 = await startChild("B2", "./servers/b2-passthrough.ts", { BACKEND }, 0);
    await alternate(G, B2);
    await B2.stop();
  }
} finally {
  await Promise.all([G.stop(), backend.stop()]);
}

/** The small 2026-07-28 call of the bench's G row, or (`sse`) GE's: a one-message stream answered as SSE. */
function smallCall(kind: string | undefined): { body: string; headers: Record<string, string> } {
  const sse = kind === "sse";
  const name = sse ? "inv_tail_item" : "inv_get_http_item";
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    ...(sse ? { progressToken: "p" } : {}),
  };
  const args = sse ? { sku: "S", count: 1 } : { sku: "A1" };
  return {
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name, arguments: args, _meta: meta },
    }),
    headers: { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": name },
  };
}

/** `a` and `b` in alternating 2 s slices after a warm-up slice: req/s and CPU per call of each. */
async function alternate(...children: Child[]): Promise<void> {
  const [a, b] = children as [Child, Child];
  const totals = new Map<string, { requests: number; cpu: number }>();
  for (let i = 0; i <= SLICES; i++) {
    for (const child of children) {
      const load = {
        url: `http://127.0.0.1:${child.port}/mcp`,
        ...smallCall(callOf.get(child)),
        connections: 32,
        seconds: 2,
      };
      const c0 = child.cpuSeconds();
      const r = await throughput(load);
      const c1 = child.cpuSeconds();
      if (i === 0) continue; // warm-up
      const t = totals.get(child.name) ?? { requests: 0, cpu: 0 };
      t.requests += r.requests;
      t.cpu += c1 - c0;
      totals.set(child.name, t);
    }
  }
  for (const [name, t] of totals) {
    process.stdout.write(
      `${name}: ${Math.round(t.requests / (2 * SLICES))} req/s, ${Math.round((t.cpu / t.requests) * 1e6)} µs CPU/call\n`,
    );
  }
  const ta = totals.get(a.name);
  const tb = totals.get(b.name);
  if (ta && tb) {
    process.stdout.write(
      `${a.name}/${b.name} throughput ${(ta.requests / tb.requests).toFixed(3)}, ` +
        `CPU per call ${(ta.cpu / ta.requests / (tb.cpu / tb.requests)).toFixed(3)}\n`,
    );
  }
}

/** The proxy rows alone; `BENCH_PROXY_CALLS`, `BENCH_PROXY_PROF` as in `npm run bench`. */
async function proxyRows(gateway: Child): Promise<void> {
  const r = await measureProxies({
    url: `http://127.0.0.1:${gateway.port}/mcp`,
    tool: "inv_get_http_item",
    args: { sku: "A1" },
    calls: Number(process.env.BENCH_PROXY_CALLS ?? 2_000),
    warmup: 1_500,
    blocks: 4,
    maxSeconds: 120,
    cpu: 0,
    ...(process.env.BENCH_PROXY_PROF ? { profileDir: process.env.BENCH_PROXY_PROF } : {}),
  });
  const line = (f: ProxyFigures) =>
    `${f.name}: p50 ${f.p50Ms.toFixed(3)} ms (+${f.addedP50Ms.toFixed(3)} over direct, paired ${f.pairedAddedMs.toFixed(3)}), ${Math.round(f.cpuPerCallUs)} µs CPU/call (blocks ${f.cpuPerCallBlocksUs.join(", ")})\n`;
  process.stdout.write(`direct HTTP p50 ${r.directP50Ms.toFixed(3)} ms over ${r.calls} calls\n`);
  process.stdout.write(line(r.ours) + line(r.remote));
  process.stdout.write(
    `CPU per call, ours / mcp-remote: ${(r.ours.cpuPerCallUs / r.remote.cpuPerCallUs).toFixed(3)}\n`,
  );
}

/** The streaming relay (100 × 1 KiB progress events per call, 4 at once) against a direct gRPC read, alternating. */
async function relayRows(gateway: Child, backendAddress: string): Promise<void> {
  const client = new InventoryServiceClient(backendAddress, credentials.createInsecure());
  const request = { sku: "S", count: 100 };
  const call = {
    url: `http://127.0.0.1:${gateway.port}/mcp`,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "inv_tail_item",
        arguments: request,
        _meta: {
          progressToken: "p",
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
    headers: {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "inv_tail_item",
    },
  };
  const calls = Number(process.env.QUICK_RELAY_CALLS ?? 200);
  let relayed = 0;
  let direct = 0;
  let cpu = 0;
  for (let i = 0; i <= SLICES; i++) {
    const c0 = gateway.cpuSeconds();
    const r = await streamRelay({ ...call, calls, concurrency: 4, expectEvents: request.count });
    const c1 = gateway.cpuSeconds();
    const d = await directStream(client, request, calls, 4);
    if (i === 0) continue; // warm-up
    relayed += r.eventsPerSecond;
    direct += d;
    cpu += (c1 - c0) / (calls * request.count);
  }
  client.close();
  process.stdout.write(
    `relay ${Math.round(relayed / SLICES)} events/s, direct ${Math.round(direct / SLICES)} events/s, ratio ${(relayed / direct).toFixed(3)}; gateway ${((cpu / SLICES) * 1e6).toFixed(1)} µs CPU/event\n`,
  );
}

/** 64 KiB and 1 MiB replies (8 connections): gateways against P in alternating 2 s slices. */
async function largeRows(gateways: Child[], sdk: Child): Promise<void> {
  const body = (bytes: number, meta: boolean) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "inv_get_http_item",
        arguments: { sku: `big:${bytes}` },
        ...(meta
          ? {
              _meta: {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
              },
            }
          : {}),
      },
    });
  const headers = {
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "inv_get_http_item",
  };
  for (const bytes of [65_536, 1_048_576]) {
    const totals = gateways.map(() => ({ requests: 0, cpu: 0 }));
    let p = 0;
    for (let i = 0; i <= SLICES; i++) {
      for (const [k, g] of gateways.entries()) {
        const c0 = g.cpuSeconds();
        const r = await throughput({
          url: `http://127.0.0.1:${g.port}/mcp`,
          body: body(bytes, true),
          headers,
          connections: 8,
          seconds: 2,
        });
        const t = totals[k];
        if (i > 0 && t) {
          t.requests += r.requests;
          t.cpu += g.cpuSeconds() - c0;
        }
      }
      const rp = await throughput({
        url: `http://127.0.0.1:${sdk.port}/mcp`,
        body: body(bytes, false),
        connections: 8,
        seconds: 2,
      });
      if (i > 0) p += rp.requests;
    }
    for (const [k, g] of gateways.entries()) {
      const t = totals[k] ?? { requests: 0, cpu: 0 };
      process.stdout.write(
        `${bytes} bytes: ${g.name} ${Math.round(t.requests / (2 * SLICES))} req/s, P ${Math.round(p / (2 * SLICES))} req/s, ratio ${(t.requests / p).toFixed(2)}; ${((t.cpu / t.requests) * 1e3).toFixed(2)} ms CPU/call\n`,
      );
    }
  }
}
