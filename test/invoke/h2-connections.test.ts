import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type ServerHttp2Session,
  type Settings,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import {
  type GetHTTPItemRequest,
  GetHTTPItemResponseSchema,
  InventoryService,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { createConnectionPool } from "../../src/invoke/h2-connections.js";
import { createH2GrpcTransport, type H2GrpcTransport } from "../../src/invoke/index.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const getItem = InventoryService.method.getHTTPItem;

/**
 * An h2c gRPC backend (Connect-node) with chosen HTTP/2 settings. `GetHTTPItem`
 * answers with the request metadata named by the SKU, and holds calls for SKU
 * "hold" until `release()`.
 */
async function startBackend(settings: Settings = {}) {
  const sessions = new Set<ServerHttp2Session>();
  let held: (() => void)[] = [];
  let holding = 0;
  let peak = 0;
  const handler = connectNodeAdapter({
    routes: (r) =>
      r.service(InventoryService, {
        async getHTTPItem(req: GetHTTPItemRequest, ctx: HandlerContext) {
          if (req.sku === "hold") {
            holding++;
            peak = Math.max(peak, holding);
            await new Promise<void>((resolve) => held.push(resolve));
            holding--;
          }
          return create(GetHTTPItemResponseSchema, {
            item: { sku: req.sku, name: ctx.requestHeader.get(req.sku) ?? "" },
          });
        },
      }),
  });
  const server: Http2Server = createServer({ settings }, handler);
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions: () => sessions.size,
    holding: () => holding,
    peak: () => peak,
    release() {
      const waiting = held;
      held = [];
      for (const resolve of waiting) resolve();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function backend(settings?: Settings) {
  const b = await startBackend(settings);
  cleanup.push(() => b.close());
  return b;
}

async function proxy(target: string, mode?: TcpProxy["mode"]) {
  const p = await startTcpProxy(target, mode);
  cleanup.push(() => p.close());
  return p;
}

function transport(options: Parameters<typeof createH2GrpcTransport>[0]): H2GrpcTransport {
  const t = createH2GrpcTransport(options);
  cleanup.push(() => t.close());
  return t;
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("the connections to a backend", () => {
  it("opens more connections when the backend's SETTINGS_MAX_CONCURRENT_STREAMS is the limit, up to four", async () => {
    const b = await backend({ maxConcurrentStreams: 2 });
    const t = transport({ baseUrl: b.url, name: "pool" });
    // Ten calls at once on a fresh transport, before the backend's SETTINGS are known.
    const calls = Array.from({ length: 10 }, () =>
      t.unary(getItem, undefined, 10_000, undefined, { sku: "hold" }),
    );
    // Four connections of two streams each: eight run at once, the other two wait for a free stream.
    await expect.poll(() => b.holding(), { timeout: 5_000 }).toBe(8);
    expect(b.sessions()).toBe(4);
    b.release();
    await expect.poll(() => b.holding()).toBe(2);
    b.release();
    const replies = await Promise.all(calls);
    expect(replies).toHaveLength(10);
    expect(b.peak()).toBe(8);
    expect(b.sessions()).toBe(4);
  });

  it("keeps to one connection while the backend's stream limit is not reached", async () => {
    const b = await backend();
    const t = transport({ baseUrl: b.url });
    await Promise.all(
      Array.from({ length: 50 }, () => t.unary(getItem, undefined, 5_000, undefined, { sku: "a" })),
    );
    expect(b.sessions()).toBe(1);
  });

  it("fails calls at once while the backend is known down, probes after the window, and recovers", async () => {
    const b = await backend();
    const p = await proxy(b.url, "reset");
    const t = transport({ baseUrl: p.url, name: "flaky", connections: { downMs: 300 } });
    const first = await failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "a" }));
    expect(first.code).toBe(Code.Unavailable);
    expect(first.rawMessage).toMatch(/^cannot connect to backend "flaky" \(http:\/\/127\.0\.0\.1:\d+\): /);
    expect(p.accepted()).toBe(1);

    // Within the window: no connection is attempted, each call fails at once saying why.
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const err = await failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "a" }));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toMatch(/^backend "flaky" is down \(last error: .+; trying again in \d+ ms\)$/);
    }
    expect(Date.now() - started).toBeLessThan(2_000); // each at once: no connect is attempted
    expect(p.accepted()).toBe(1);

    // The backend comes back; after the window the next call connects and is served.
    p.mode = "forward";
    await new Promise((r) => setTimeout(r, 400));
    const reply = await t.unary(getItem, undefined, 5_000, { "x-k": "v" }, { sku: "x-k" });
    expect(reply.message.item?.name).toBe("v");
    expect(p.accepted()).toBe(2);
  });

  it("waits longer after each failed probe", async () => {
    const p = await proxy("http://127.0.0.1:1", "reset");
    const t = transport({ baseUrl: p.url, name: "gone", connections: { downMs: 100 } });
    const windows: number[] = [];
    for (let i = 0; i < 3; i++) {
      await failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "a" }));
      const down = await failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "a" }));
      windows.push(Number(/trying again in (\d+) ms/.exec(down.rawMessage)?.[1]));
      await new Promise((r) => setTimeout(r, (windows.at(-1) ?? 0) + 20));
    }
    // 100, 200, 400 ms, each ±20%.
    expect(windows[0]).toBeLessThanOrEqual(120);
    expect(windows[1]).toBeGreaterThan(150);
    expect(windows[2]).toBeGreaterThan(300);
    expect(p.accepted()).toBe(3);
  });

  it("gives up on a connection without the backend's SETTINGS after the connect timeout, and marks it down", async () => {
    const p = await proxy("http://127.0.0.1:1", "silent");
    const t = transport({
      baseUrl: p.url,
      name: "hole",
      connections: { connectTimeoutMs: 200, downMs: 5_000 },
    });
    const started = Date.now();
    const err = await failure(t.unary(getItem, undefined, 10_000, undefined, { sku: "a" }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toContain("no HTTP/2 connection within 200 ms");
    const next = await failure(t.unary(getItem, undefined, 10_000, undefined, { sku: "a" }));
    expect(next.rawMessage).toMatch(
      /^backend "hole" is down \(last error: no HTTP\/2 connection within 200 ms;/,
    );
  });

  it("replaces a connection that stops answering keep-alive PINGs, failing its calls with UNAVAILABLE", async () => {
    const b = await backend();
    const p = await proxy(b.url);
    const t = transport({ baseUrl: p.url, name: "quiet", keepaliveMs: 200 });
    await t.unary(getItem, undefined, 5_000, undefined, { sku: "a" });
    const stuck = failure(t.unary(getItem, undefined, 10_000, undefined, { sku: "hold" }));
    await expect.poll(() => b.holding()).toBe(1);
    p.freeze();
    const err = await stuck;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(
      'the connection to backend "quiet" failed: no answer to a keep-alive PING within 200 ms',
    );
    // The next call opens a new connection instead of waiting on the dead one until its deadline.
    await t.unary(getItem, undefined, 3_000, undefined, { sku: "a" });
    expect(p.accepted()).toBe(2);
    b.release();
  });

  it("without keep-alive, waits on a silent connection until the call's deadline", async () => {
    // The control for the test above: the same fault without PINGs.
    const b = await backend();
    const p = await proxy(b.url);
    const t = transport({ baseUrl: p.url, name: "quiet" });
    await t.unary(getItem, undefined, 5_000, undefined, { sku: "a" });
    p.freeze();
    const err = await failure(t.unary(getItem, undefined, 600, undefined, { sku: "a" }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(p.accepted()).toBe(1);
  });

  it("close() ends the connections: calls in flight and later calls fail with UNAVAILABLE", async () => {
    const b = await backend();
    const t = createH2GrpcTransport({ baseUrl: b.url, name: "closing" });
    await t.unary(getItem, undefined, 5_000, undefined, { sku: "a" });
    const inflight = failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "hold" }));
    await expect.poll(() => b.holding()).toBe(1);
    expect(b.sessions()).toBe(1);
    t.close();
    const err = await inflight;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('the gateway closed its connections to backend "closing"');
    const later = await failure(t.unary(getItem, undefined, 5_000, undefined, { sku: "a" }));
    expect(later.rawMessage).toBe('the gateway closed its connections to backend "closing"');
    await expect.poll(() => b.sessions()).toBe(0);
    b.release();
  });
});

describe("retiring a connection", () => {
  it("lets a stream opened on it in the same tick finish instead of refusing it", async () => {
    // Node 20 sends a closing session's GOAWAY before the HEADERS of streams opened in the same
    // tick, and refuses them: a refusal that retires the connection must not take them along.
    const server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const pool = createConnectionPool({
      origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      label: 'backend "t"',
    });
    cleanup.push(() => pool.close());
    const first = pool.request({ ":method": "GET", ":path": "/" }, {});
    const status = new Promise<number | string>((resolve) => {
      first.on("response", (h) => resolve(Number(h[":status"])));
      first.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    first.end();
    pool.refused(first.session as Http2Session, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(await status).toBe(200);
    first.resume();
  });
});

describe("a backend's static metadata", () => {
  it("goes with every call, and the caller's metadata of the same name wins", async () => {
    const b = await backend();
    const t = transport({
      baseUrl: b.url,
      headers: { "x-team": "payments", authorization: "Bearer service-token" },
    });
    const team = await t.unary(getItem, undefined, 5_000, undefined, { sku: "x-team" });
    expect(team.message.item?.name).toBe("payments");
    const token = await t.unary(getItem, undefined, 5_000, undefined, { sku: "authorization" });
    expect(token.message.item?.name).toBe("Bearer service-token");
    const caller = await t.unary(
      getItem,
      undefined,
      5_000,
      { authorization: "Bearer caller-token" },
      { sku: "authorization" },
    );
    expect(caller.message.item?.name).toBe("Bearer caller-token");
  });
});
