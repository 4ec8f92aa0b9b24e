import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { type InteropBackend, startGrpcJsBackend } from "../support/interop/node-backends.js";
import { closedPort, type Rig, startRig } from "./rig.js";

/** One sample of the text format: metric name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: { readonly [k: string]: string };
  readonly value: number;
}

/** Parses the Prometheus text exposition format (samples only; comments skipped). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const labels: { [k: string]: string } = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: { [k: string]: string } = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

const GET = "mcpengine.testing.v1.InventoryService/GetHTTPItem";

describe("/metrics after known traffic", () => {
  let rig: Rig;
  let samples: Sample[];
  beforeAll(async () => {
    rig = await startRig();
    const get = (sku: string) => ({ name: "inv_get_http_item", arguments: { sku } });
    for (const sku of ["A1", "A2", "A3"]) await (await rig.call(1, "tools/call", get(sku))).text();
    await (await rig.call(2, "tools/call", get("down"))).text();
    await (await rig.call(3, "tools/call", get("missing"))).text();
    await (await rig.call(4, "tools/call", { name: "made_up", arguments: {} })).text();
    await (await rig.call(5, "tools/list")).text();
    await (
      await rig.call(6, "tools/call", { name: "inv_tail_item", arguments: { sku: "T", count: 3 } })
    ).text();
    samples = await scrape(`${rig.base}/metrics`);
  });
  afterAll(() => rig?.close());

  it("counts requests by era, method and outcome", () => {
    const requests = (method: string, outcome: string) =>
      value(samples, "mcpengine_requests_total", { era: "stateless", method, outcome });
    expect(requests("tools/call", "ok")).toBe(4);
    expect(requests("tools/call", "tool_error")).toBe(2);
    expect(requests("tools/call", "-32602")).toBe(1);
    expect(requests("tools/list", "ok")).toBe(1);
    const total = samples
      .filter((s) => s.name === "mcpengine_requests_total")
      .reduce((n, s) => n + s.value, 0);
    expect(total).toBe(8);
  });

  it("times requests per tool of the catalog, others as unknown, and no tool for other methods", () => {
    const count = (method: string, tool: string) =>
      value(samples, "mcpengine_request_duration_seconds_count", { era: "stateless", method, tool });
    expect(count("tools/call", "inv_get_http_item")).toBe(5);
    expect(count("tools/call", "inv_tail_item")).toBe(1);
    expect(count("tools/call", "unknown")).toBe(1);
    expect(count("tools/list", "")).toBe(1);
    expect(samples.some((s) => s.labels.tool === "made_up")).toBe(false);
    const inf = value(samples, "mcpengine_request_duration_seconds_bucket", {
      method: "tools/call",
      tool: "inv_get_http_item",
      le: "+Inf",
    });
    expect(inf).toBe(5);
  });

  it("times backend RPCs by backend, method and gRPC code", () => {
    const rpcs = (method: string, code: string) =>
      value(samples, "mcpengine_backend_rpc_duration_seconds_count", { backend: "inv", method, code });
    expect(rpcs(GET, "OK")).toBe(3);
    expect(rpcs(GET, "UNAVAILABLE")).toBe(1);
    expect(rpcs(GET, "NOT_FOUND")).toBe(1);
    expect(rpcs("mcpengine.testing.v1.InventoryService/TailItem", "OK")).toBe(1);
  });

  it("reads the catalog and the backends at scrape time", () => {
    expect(value(samples, "mcpengine_tools")).toBe(rig.gateway.tools.length);
    expect(value(samples, "mcpengine_backend_ready", { backend: "inv" })).toBe(1);
    expect(value(samples, "mcpengine_catalog_reloads_total")).toBe(0);
    expect(value(samples, "mcpengine_reload_failures_total")).toBe(0);
    // Auth is off: no auth samples at all.
    expect(value(samples, "mcpengine_auth_requests_total", { outcome: "ok" })).toBeUndefined();
  });

  it("gauges open sessions and attached streams when scraped", async () => {
    const before = await scrape(`${rig.base}/metrics`);
    expect(value(before, "mcpengine_sessions")).toBe(0);
    expect(value(before, "mcpengine_streams")).toBe(0);
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await fetch(`${rig.base}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    const abort = new AbortController();
    const stream = await fetch(`${rig.base}/mcp`, {
      headers: {
        accept: "text/event-stream",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
      },
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    const during = await scrape(`${rig.base}/metrics`);
    expect(value(during, "mcpengine_sessions")).toBe(1);
    expect(value(during, "mcpengine_streams")).toBe(1);
    abort.abort();
    await stream.body?.cancel().catch(() => {});
    await expect.poll(async () => value(await scrape(`${rig.base}/metrics`), "mcpengine_streams")).toBe(0);
  });
});

describe("where /metrics is served", () => {
  it("is a listener of its own with metrics_listen, and not the MCP one", async () => {
    const rig = await startRig({ config: { metricsListen: "127.0.0.1:0" } });
    try {
      const started = rig.lines().find((l) => l.msg.startsWith("mcpengine listening"));
      const url = String(started?.metrics);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(url.startsWith(rig.base)).toBe(false);
      expect(value(await scrape(url), "mcpengine_tools")).toBe(rig.gateway.tools.length);
      expect((await fetch(`${rig.base}/metrics`)).status).toBe(404);
    } finally {
      await rig.close();
    }
  });

  it("is nowhere with metrics off", async () => {
    const rig = await startRig({ gateway: { metrics: false } });
    try {
      expect((await fetch(`${rig.base}/metrics`)).status).toBe(404);
      expect(rig.gateway.metrics).toBeUndefined();
    } finally {
      await rig.close();
    }
  });

  it("keeps two gateways' counts apart in one process", async () => {
    const a = await startRig();
    const b = await startRig();
    try {
      await (await a.call(1, "tools/list")).text();
      const count = async (rig: Rig) =>
        value(await scrape(`${rig.base}/metrics`), "mcpengine_requests_total", { method: "tools/list" });
      expect(await count(a)).toBe(1);
      expect(await count(b)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rejects a metrics_listen that is not host:port", () => {
    expect(() =>
      parseConfig(JSON.stringify({ metricsListen: "9464", backends: [{ name: "a", target: "http://x:1" }] })),
    ).toThrow(/metrics_listen: must be "host:port", got "9464"/);
  });
});

describe("the catalog reload counter", () => {
  let backend: InteropBackend | undefined;
  afterAll(() => backend?.close());

  it("counts the catalog swapped in when a late backend comes up", async () => {
    const port = await closedPort();
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "late", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
      }),
    );
    const gateway = await createGateway(config, { retryMs: 50 });
    const listener = await gateway.listen();
    try {
      const reloads = async () =>
        value(await scrape(`${listener.url}/metrics`), "mcpengine_catalog_reloads_total");
      expect(await reloads()).toBe(0);
      expect(
        value(await scrape(`${listener.url}/metrics`), "mcpengine_backend_ready", { backend: "late" }),
      ).toBe(0);
      backend = await startGrpcJsBackend(port);
      await expect.poll(reloads, { timeout: 10_000 }).toBe(1);
      expect(
        value(await scrape(`${listener.url}/metrics`), "mcpengine_backend_ready", { backend: "late" }),
      ).toBe(1);
    } finally {
      await listener.close();
    }
  });
});
