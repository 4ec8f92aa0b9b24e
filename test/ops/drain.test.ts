import type { IncomingMessage, ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type HttpHandler, type HttpListener, listen } from "../../src/http/index.js";

/** A raw connection: what was written back so far, and whether the server closed it. */
interface Raw {
  readonly socket: Socket;
  text(): string;
  closed(): boolean;
}

async function open(base: string): Promise<Raw> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  let text = "";
  let closed = false;
  socket.on("data", (d: Buffer) => {
    text += d.toString();
  });
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  return { socket, text: () => text, closed: () => closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the listener's drain", () => {
  let listener: HttpListener | undefined;
  let release: () => void = () => {};
  afterEach(async () => {
    release();
    await listener?.close();
    listener = undefined;
  });

  /** `/slow` answers after `ms`; `/hang` when released. */
  function routes(ms = 300): Map<string, HttpHandler> {
    const held = new Promise<void>((r) => {
      release = r;
    });
    return new Map<string, HttpHandler>([
      [
        "/slow",
        async (req: IncomingMessage, res: ServerResponse) => {
          req.resume();
          await sleep(ms);
          res.writeHead(200, { "content-type": "text/plain" }).end("done");
        },
      ],
      [
        "/hang",
        async (req: IncomingMessage, res: ServerResponse) => {
          req.resume();
          await held;
          res.end("released");
        },
      ],
    ]);
  }

  it("lets a request under way finish, telling its client to close the connection", async () => {
    listener = await listen("127.0.0.1", 0, routes(400));
    const raw = await open(listener.url);
    raw.socket.write("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    await sleep(100);
    const started = Date.now();
    expect(await listener.drain(5_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(200);
    await expect.poll(raw.closed).toBe(true);
    expect(raw.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(raw.text()).toMatch(/\r\nConnection: close\r\n/i);
    expect(raw.text()).toMatch(/\r\n\r\n4\r\ndone\r\n0\r\n\r\n$/);
  });

  it("answers a request arriving on an open connection 503 with Connection: close, /readyz 503, /healthz 200", async () => {
    listener = await listen("127.0.0.1", 0, routes(), {
      readiness: async () => ({ ready: true, checks: {} }),
    });
    // Connections in the middle of a request are not idle: they stay open when the drain begins.
    const late = await open(listener.url);
    late.socket.write("POST /slow HTTP/1.1\r\nHost: x\r\n");
    const probe = await open(listener.url);
    probe.socket.write("GET /readyz HTTP/1.1\r\nHost: x\r\n");
    const alive = await open(listener.url);
    alive.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    await sleep(100);
    const drained = listener.drain(5_000);
    late.socket.write("Content-Length: 0\r\n\r\n");
    probe.socket.write("\r\n");
    alive.socket.write("\r\n");
    await expect.poll(() => late.closed() && probe.closed() && alive.closed()).toBe(true);
    expect(late.text()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(late.text()).toMatch(/\r\nConnection: close\r\n/i);
    expect(probe.text()).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(probe.text().split("\r\n\r\n")[1] ?? "")).toEqual({
      ready: false,
      checks: { shutdown: { ok: false, detail: "the gateway is shutting down" } },
    });
    expect(alive.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n[\s\S]*\r\nok\n/i);
    expect(await drained).toBe(true);
  });

  it("accepts no new connection", async () => {
    listener = await listen("127.0.0.1", 0, routes());
    const { hostname, port } = new URL(listener.url);
    await listener.drain(1_000);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(Number(port), hostname);
      s.once("connect", () => resolve("connected"));
      s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("gives up after the timeout, leaving the rest to close()", async () => {
    listener = await listen("127.0.0.1", 0, routes());
    const raw = await open(listener.url);
    raw.socket.write("POST /hang HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    await sleep(100);
    const started = Date.now();
    expect(await listener.drain(300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(raw.closed()).toBe(false);
    await listener.close();
    await expect.poll(raw.closed).toBe(true);
  });

  it("waits for work running outside any response, and calls onDrain once", async () => {
    let busy = 1;
    let drains = 0;
    listener = await listen("127.0.0.1", 0, routes(), {
      busy: () => busy,
      onDrain: () => {
        drains++;
      },
    });
    let done = false;
    const drained = listener.drain(5_000).then((r) => {
      done = true;
      return r;
    });
    expect(listener.drain(1)).toBe(listener.drain(5_000));
    await sleep(200);
    expect(done).toBe(false);
    busy = 0;
    expect(await drained).toBe(true);
    expect(drains).toBe(1);
  });
});
