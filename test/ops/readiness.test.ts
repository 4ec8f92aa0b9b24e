import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import {
  cachedCheck,
  checkReadiness,
  type Readiness,
  type ReadinessCheck,
  tcpProbe,
} from "../../src/health/index.js";
import type { HttpListener } from "../../src/http/index.js";
import { type InteropBackend, startGrpcJsBackend } from "../support/interop/node-backends.js";

/** A loopback port that nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function readyz(base: string): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

describe("readiness checks", () => {
  it("is ready only when every check passes, and names each", async () => {
    const report = await checkReadiness(
      new Map<string, ReadinessCheck>([
        ["a", () => ({ ok: true, detail: "fine" })],
        ["b", async () => ({ ok: false, detail: "down" })],
      ]),
    );
    expect(report).toEqual({
      ready: false,
      checks: { a: { ok: true, detail: "fine" }, b: { ok: false, detail: "down" } },
    });
  });

  it("fails a check that throws or does not answer in time, and still answers in bounded time", async () => {
    const started = Date.now();
    const report = await checkReadiness(
      new Map<string, ReadinessCheck>([
        [
          "throws",
          () => {
            throw new Error("boom");
          },
        ],
        ["hangs", () => new Promise<never>(() => {})],
      ]),
      200,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report.checks).toEqual({
      throws: { ok: false, detail: "boom" },
      hangs: { ok: false, detail: "no answer within 200 ms" },
    });
  });

  it("shares one look among concurrent probes and reuses it until the cache time passes", async () => {
    let now = 0;
    let looks = 0;
    const check = cachedCheck(
      async () => {
        looks++;
        await new Promise((r) => setTimeout(r, 20));
        return { ok: true, detail: `look ${looks}` };
      },
      3_000,
      () => now,
    );
    const first = await Promise.all([check(), check(), check()]);
    expect(first.map((r) => r.detail)).toEqual(["look 1", "look 1", "look 1"]);
    now = 2_999;
    expect((await check()).detail).toBe("look 1");
    now = 3_000;
    expect((await check()).detail).toBe("look 2");
  });

  it("probes a TCP address: connectable, refused", async () => {
    const server = createNetServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    expect(await tcpProbe(`http://127.0.0.1:${port}`)).toEqual({
      ok: true,
      detail: `127.0.0.1:${port} accepts connections`,
    });
    await new Promise<void>((r) => server.close(() => r()));
    expect(await tcpProbe(`http://127.0.0.1:${port}`)).toEqual({
      ok: false,
      detail: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED`,
    });
  });
});

describe("/readyz of a gateway", () => {
  let backend: InteropBackend | undefined;
  let gateway: Gateway | undefined;
  let http: HttpListener | undefined;
  const extra: { close(): unknown }[] = [];
  afterEach(async () => {
    await http?.close();
    await gateway?.close();
    await backend?.close();
    for (const e of extra.splice(0)) await e.close();
    http = undefined;
    gateway = undefined;
    backend = undefined;
  });

  async function start(config: object): Promise<string> {
    gateway = await createGateway(parseConfig(JSON.stringify({ listen: "127.0.0.1:0", ...config })), {
      retryMs: 100,
    });
    http = await gateway.listen();
    return http.url;
  }

  it("flips to 503 when a backend dies and back to 200 when it returns on the same port", async () => {
    const port = await freePort();
    backend = await startGrpcJsBackend(port);
    const base = await start({
      backends: [{ name: "interop", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
    });
    const up = await readyz(base);
    expect(up).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: { "backend:interop": { ok: true, detail: `127.0.0.1:${port} accepts connections` } },
      },
    });
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, "ok\n"]);

    await backend.close();
    backend = undefined;
    // The last probe is reused for up to 3 s.
    await expect.poll(async () => (await readyz(base)).status, { timeout: 8_000, interval: 250 }).toBe(503);
    expect(await readyz(base)).toEqual({
      status: 503,
      body: {
        ready: false,
        checks: {
          "backend:interop": { ok: false, detail: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED` },
        },
      },
    });
    // Alive all the same: the process serves.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    backend = await startGrpcJsBackend(port);
    await expect.poll(async () => (await readyz(base)).status, { timeout: 8_000, interval: 250 }).toBe(200);
  });

  it("is not ready while a backend down at start has no descriptors, and is once it comes up", async () => {
    const port = await freePort();
    const base = await start({
      backends: [{ name: "late", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
    });
    const down = await readyz(base);
    expect(down.status).toBe(503);
    expect(down.body.checks["backend:late"]).toEqual({
      ok: false,
      detail: expect.stringMatching(/^descriptors not loaded: .*late/),
    });
    backend = await startGrpcJsBackend(port);
    await expect.poll(async () => (await readyz(base)).status, { timeout: 10_000, interval: 200 }).toBe(200);
  });

  it("waits for the IdP's signing keys once, and asks the IdP once for a storm of probes", async () => {
    const port = await freePort();
    backend = await startGrpcJsBackend(port);
    let fetches = 0;
    let serving = false;
    const idp: Server = createHttpServer((_req, res) => {
      fetches++;
      if (!serving) return res.writeHead(500).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [] }));
    });
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
    extra.push({ close: () => new Promise((r) => idp.close(r)) });
    const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
    const base = await start({
      auth: { issuer, audience: "http://127.0.0.1/mcp", jwksUri: `${issuer}/jwks` },
      backends: [{ name: "interop", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
    });
    const failing = await Promise.all(Array.from({ length: 20 }, () => readyz(base)));
    expect(failing.map((r) => r.status)).toEqual(Array(20).fill(503));
    expect(failing[0]?.body.checks.auth).toEqual({
      ok: false,
      detail: expect.stringMatching(/^cannot fetch the IdP's signing keys: /),
    });
    expect(fetches).toBe(1);
    serving = true;
    await expect.poll(async () => (await readyz(base)).status, { timeout: 8_000, interval: 250 }).toBe(200);
    expect((await readyz(base)).body.checks.auth).toEqual({ ok: true, detail: "signing keys fetched" });
    const before = fetches;
    await Promise.all(Array.from({ length: 20 }, () => readyz(base)));
    expect(fetches).toBe(before);
  });

  it("is not ready while Redis does not answer", async () => {
    const port = await freePort();
    backend = await startGrpcJsBackend(port);
    const base = await start({
      stateKey: Buffer.alloc(32, 7).toString("base64"),
      store: { redis: `redis://127.0.0.1:${await freePort()}` },
      backends: [{ name: "interop", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
    });
    const { status, body } = await readyz(base);
    expect(status).toBe(503);
    expect(body.checks.store).toEqual({ ok: false, detail: "the shared state (Redis) does not answer" });
    expect(body.checks["backend:interop"]?.ok).toBe(true);
  });

  it.skipIf(!process.env.REDIS_URL)("is ready with Redis answering (set REDIS_URL to run)", async () => {
    const port = await freePort();
    backend = await startGrpcJsBackend(port);
    const base = await start({
      stateKey: Buffer.alloc(32, 7).toString("base64"),
      store: { redis: process.env.REDIS_URL, keyPrefix: `mcpengine-readyz-${port}:` },
      backends: [{ name: "interop", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
    });
    expect(await readyz(base)).toMatchObject({
      status: 200,
      body: { ready: true, checks: { store: { ok: true, detail: "the shared state answers" } } },
    });
  });
});
