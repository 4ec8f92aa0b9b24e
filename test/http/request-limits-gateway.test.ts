import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { InventoryService, ItemSchema } from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { createLogger } from "../../src/observe/index.js";
import { type LogLine, startJwks } from "../observe/rig.js";
import { startConnectServer } from "../support/echo-server.js";
import { inventoryBackend } from "../support/image.js";
import { STATELESS_META, statelessRequest } from "../support/stateless.js";

/**
 * Limits per caller and per session through a real gateway, over raw HTTP so
 * that every status and header shows. Rates run on a frozen clock
 * (`performance` faked, sockets and timers real): a bucket refills only when
 * a test moves the clock.
 */

const AUDIENCE = "http://gateway.test/mcp";
const LIMITED = -32090;

/** A JSON-RPC response as parsed from a body. */
interface Rpc {
  readonly id: unknown;
  readonly result?: { readonly isError?: boolean };
  readonly error?: unknown;
}
const rpc = async (res: Response): Promise<Rpc> => (await res.json()) as Rpc;

/** A call the backend holds until the test lets it go (or the gateway cancels it). */
class Held {
  started = 0;
  cancelled = 0;
  private release: () => void = () => {};
  private gate = Promise.resolve();

  reset(): void {
    this.started = 0;
    this.cancelled = 0;
    this.gate = new Promise((r) => {
      this.release = r;
    });
  }

  /** Waits for the gate, or for the call's signal to abort. */
  async wait(signal: AbortSignal): Promise<void> {
    this.started++;
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        this.cancelled++;
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      void this.gate.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  open(): void {
    this.release();
  }
}

const held = new Held();
let backend: { url: string; close(): Promise<void> };

beforeAll(async () => {
  backend = await startConnectServer(InventoryService, {
    async getHTTPItem(req, ctx) {
      if (req.sku === "slow") await held.wait(ctx.signal);
      return { item: create(ItemSchema, { sku: req.sku, name: `Item ${req.sku}`, quantity: 1n }) };
    },
    async *tailItem(req, ctx) {
      for (let i = 0; i < req.count; i++) {
        // The second item comes once the test opens the gate: the SSE reply stays open until then.
        if (i === 1) await held.wait(ctx.signal);
        yield { item: create(ItemSchema, { sku: `${req.sku}-${i}` }) };
      }
    },
  });
});
afterAll(() => backend?.close());
beforeEach(() => held.reset());

interface LimitedGateway {
  readonly base: string;
  readonly mcp: string;
  lines(): LogLine[];
  close(): Promise<void>;
}

async function startGateway(config: Record<string, unknown>): Promise<LimitedGateway> {
  const raw: string[] = [];
  const logger = createLogger({ level: "info", sink: { write: (l) => raw.push(l) } });
  const parsed = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [inventoryBackend(backend.url)],
      ...config,
    }),
    { source: "test" },
  );
  const listener: HttpListener = await (await createGateway(parsed, { logger })).listen();
  return {
    base: listener.url,
    mcp: `${listener.url}/mcp`,
    lines: () => raw.map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === "mcp request"),
    close: () => listener.close(),
  };
}

/** A 2026-07-28 request. */
function call(
  gw: LimitedGateway,
  id: number,
  method: string,
  params: Record<string, unknown> = {},
  extra: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const r = statelessRequest(id, method, params);
  return fetch(gw.mcp, {
    method: "POST",
    headers: { ...r.headers, ...extra.headers },
    body: r.body,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

const slowItem = { name: "inv_get_http_item", arguments: { sku: "slow" } };

/** The status of a 2026-07-28 tools/list, its body read. */
async function listStatus(gw: LimitedGateway, headers: Record<string, string> = {}): Promise<number> {
  const res = await call(gw, 7, "tools/list", {}, { headers });
  await res.text();
  return res.status;
}

/** Waits, a bounded while, until `condition` holds. */
async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads a streamed body until `done` says so, for at most `ms`. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  ms = 5_000,
): Promise<string> {
  const decoder = new TextDecoder();
  const deadline = Date.now() + ms;
  let text = "";
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`timed out; read so far: ${text}`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), Math.max(0, deadline - Date.now()));
    });
    const read = await Promise.race([reader.read(), late]);
    clearTimeout(timer);
    if (read === "late") continue;
    if (read.done) break;
    text += decoder.decode(read.value, { stream: true });
  }
  return text;
}

/**
 * Freezes `performance.now` for the tests of a describe block, from one clock
 * (a clock per test would start over, behind the buckets' last refill).
 */
function frozenClock(): void {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ["performance"] });
  });
  afterAll(() => {
    vi.useRealTimers();
  });
}

async function metric(gw: LimitedGateway, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe("a rate limit per caller", () => {
  let gw: LimitedGateway;
  beforeAll(async () => {
    gw = await startGateway({ limits: { per_caller: { requests_per_second: 2, burst: 2 } } });
  });
  afterAll(() => gw?.close());
  frozenClock();

  it("refuses the request past the burst with 429, Retry-After and a JSON-RPC error naming the limit, then admits one after the refill", async () => {
    expect(await listStatus(gw)).toBe(200);
    expect(await listStatus(gw)).toBe(200);
    const refused = await call(gw, 41, "tools/call", { name: "inv_get_http_item", arguments: { sku: "A" } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("content-type")).toBe("application/json");
    expect(await refused.json()).toEqual({
      jsonrpc: "2.0",
      id: 41,
      error: {
        code: LIMITED,
        message: "rate limit of 2 requests/s per caller exceeded; retry after 1s",
        data: { limit: "rate", scope: "caller", retryAfter: 1 },
      },
    });
    // Refused requests take no token: still refused until half a second has passed.
    expect(await listStatus(gw)).toBe(429);
    vi.advanceTimersByTime(499);
    expect(await listStatus(gw)).toBe(429);
    vi.advanceTimersByTime(1);
    expect(await listStatus(gw)).toBe(200);
    expect(await listStatus(gw)).toBe(429);
  });

  it("logs each refusal as one request line with outcome limited and status 429, and counts it", async () => {
    vi.advanceTimersByTime(10_000);
    const before = gw.lines().length;
    const limitedBefore =
      (await metric(gw, 'mcpengine_requests_limited_total{limit="rate",scope="caller"}')) ?? 0;
    for (let i = 0; i < 3; i++) await listStatus(gw);
    const refused = await call(gw, 42, "tools/call", { name: "inv_get_http_item", arguments: { sku: "B" } });
    expect(refused.status).toBe(429);
    await refused.text();
    const lines = gw.lines().slice(before);
    expect(lines.map((l) => [l.method, l.outcome, l.status])).toEqual([
      ["tools/list", "ok", 200],
      ["tools/list", "ok", 200],
      ["tools/list", "limited", 429],
      ["tools/call", "limited", 429],
    ]);
    expect(lines[3]).toMatchObject({
      transport: "stateless",
      id: 42,
      tool: "inv_get_http_item",
      error: "rate limit of 2 requests/s per caller exceeded; retry after 1s",
    });
    expect(await metric(gw, 'mcpengine_requests_limited_total{limit="rate",scope="caller"}')).toBe(
      limitedBefore + 2,
    );
  });

  it("does not count notifications", async () => {
    vi.advanceTimersByTime(10_000);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(gw.mcp, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "notifications/cancelled",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: 1, _meta: STATELESS_META },
        }),
      });
      expect(res.status).toBe(202);
      await res.text();
    }
    expect(await listStatus(gw)).toBe(200);
    expect(await listStatus(gw)).toBe(200);
  });
});

describe("a rate limit per token subject", () => {
  let gw: LimitedGateway;
  let jwks: Awaited<ReturnType<typeof startJwks>>;
  beforeAll(async () => {
    jwks = await startJwks();
    gw = await startGateway({
      auth: { issuer: "http://idp.test", audience: AUDIENCE, jwksUri: jwks.url },
      limits: { per_caller: { requests_per_second: 1, burst: 1 } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await jwks?.close();
  });
  frozenClock();

  it("keeps two subjects apart, though they come from the same address", async () => {
    const token = (sub: string) => jwks.sign({ iss: "http://idp.test", aud: AUDIENCE, sub });
    const alice = { authorization: `Bearer ${await token("alice")}` };
    const bob = { authorization: `Bearer ${await token("bob")}` };
    expect(await listStatus(gw, alice)).toBe(200);
    expect(await listStatus(gw, alice)).toBe(429);
    expect(await listStatus(gw, bob)).toBe(200);
    expect(await listStatus(gw, bob)).toBe(429);
    expect(
      gw
        .lines()
        .filter((l) => l.outcome === "limited")
        .map((l) => l.subject),
    ).toEqual(["alice", "bob"]);
  });
});

describe("a concurrency limit per caller", () => {
  let gw: LimitedGateway;
  beforeAll(async () => {
    gw = await startGateway({ limits: { per_caller: { max_concurrent: 1 } } });
  });
  afterAll(() => gw?.close());

  it("refuses a request while another is running, and admits one once it is answered", async () => {
    const slow = call(gw, 1, "tools/call", slowItem);
    await until(() => held.started === 1, "the slow call to reach the backend");
    const refused = await call(gw, 2, "tools/list");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await rpc(refused)).error).toEqual({
      code: LIMITED,
      message: "concurrency limit of 1 running requests per caller exceeded; retry after 1s",
      data: { limit: "concurrent", scope: "caller", retryAfter: 1 },
    });
    held.open();
    const answered = await slow;
    expect(answered.status).toBe(200);
    expect((await rpc(answered)).result?.isError).toBeFalsy();
    expect(await listStatus(gw)).toBe(200);
  });

  it("holds a streamed reply's slot until its last event", async () => {
    const r = statelessRequest(3, "tools/call", {
      name: "inv_tail_item",
      arguments: { sku: "T", count: 2 },
    });
    const body = JSON.parse(r.body);
    body.params._meta = { ...STATELESS_META, progressToken: "p" };
    const res = await fetch(gw.mcp, { method: "POST", headers: r.headers, body: JSON.stringify(body) });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await readUntil(reader, (t) => t.includes("notifications/progress"));
    await until(() => held.started === 1, "the stream to wait for its second item");
    expect(await listStatus(gw)).toBe(429);
    held.open();
    const rest = await readUntil(reader, (t) => t.includes('"id":3'));
    expect(rest).toContain("T-1");
    await reader.cancel().catch(() => {});
    expect(await listStatus(gw)).toBe(200);
  });

  it("frees the slot of a request whose client went away", async () => {
    const abort = new AbortController();
    const slow = call(gw, 4, "tools/call", slowItem, { signal: abort.signal }).catch((e: unknown) => e);
    await until(() => held.started === 1, "the slow call to reach the backend");
    expect(await listStatus(gw)).toBe(429);
    abort.abort();
    expect(await slow).toBeInstanceOf(Error);
    await until(() => held.cancelled === 1, "the backend call to be cancelled");
    // The slot is freed as the cancelled call unwinds: the next request is admitted.
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = await listStatus(gw);
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
  });
});

describe("a rate limit per session", () => {
  let gw: LimitedGateway;
  beforeAll(async () => {
    gw = await startGateway({ limits: { per_session: { requests_per_second: 1, burst: 2 } } });
  });
  afterAll(() => gw?.close());
  frozenClock();

  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };

  async function openSession(): Promise<string> {
    const res = await fetch(gw.mcp, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    return res.headers.get("mcp-session-id") as string;
  }

  async function inSession(session: string, body: unknown): Promise<Response> {
    return fetch(gw.mcp, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify(body),
    });
  }

  const list = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/list" });

  it("refuses a session's request past its burst, not another session's of the same caller", async () => {
    const s1 = await openSession();
    const s2 = await openSession();
    expect((await inSession(s1, list(1))).status).toBe(200);
    expect((await inSession(s1, list(2))).status).toBe(200);
    const refused = await inSession(s1, list(3));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({
      id: 3,
      error: {
        code: LIMITED,
        message: "rate limit of 1 requests/s per session exceeded; retry after 1s",
        data: { limit: "rate", scope: "session" },
      },
    });
    // Notifications are not counted.
    const note = await inSession(s1, { jsonrpc: "2.0", method: "notifications/initialized" });
    expect(note.status).toBe(202);
    expect((await inSession(s2, list(4))).status).toBe(200);
    vi.advanceTimersByTime(1_000);
    expect((await inSession(s1, list(5))).status).toBe(200);
    expect(gw.lines().find((l) => l.outcome === "limited")).toMatchObject({
      era: "session",
      transport: "streamable",
      status: 429,
    });
  });

  it("refuses a 2024-11-05 POST /messages past its session's burst with 429, before accepting it", async () => {
    const controller = new AbortController();
    const stream = await fetch(`${gw.base}/sse`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    try {
      const first = await readUntil(reader, (t) => t.includes("\n\n"));
      const endpoint = /event: endpoint\ndata: (\S+)/.exec(first)?.[1] as string;
      const send = (body: unknown) =>
        fetch(`${gw.base}${endpoint}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      // initialize is a request of the session: it counts.
      const init = await send({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      });
      expect(init.status).toBe(202);
      expect((await send({ jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202);
      expect((await send(list(2))).status).toBe(202);
      const refused = await send(list(3));
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toMatchObject({
        id: 3,
        error: { code: LIMITED, data: { limit: "rate", scope: "session" } },
      });
      // The admitted ones are answered on the stream; the refused one is not.
      const text = await readUntil(reader, (t) => t.includes('"id":2'));
      expect(text).not.toContain('"id":3');
      expect(gw.lines().filter((l) => l.transport === "legacy" && l.outcome === "limited")).toEqual([
        expect.objectContaining({ method: "tools/list", status: 429, id: 3 }),
      ]);
    } finally {
      controller.abort();
    }
  });
});
