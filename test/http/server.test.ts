import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type HttpListener, listen } from "../../src/http/index.js";
import { rawExchange } from "../support/raw-http.js";

describe("the gateway's HTTP listener", () => {
  let listener: HttpListener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });
  const echo = new Map([
    [
      "/mcp",
      async (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
        for await (const _ of req) {
          // read the body
        }
        res.end("done");
      },
    ],
  ]);

  it("answers 408 and closes a connection whose body trickles in past the request timeout", async () => {
    listener = await listen("127.0.0.1", 0, echo, { requestTimeoutMs: 1_000 });
    const answer = await rawExchange(
      listener.url,
      "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
      6_000,
    );
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408/);
    expect(answer.after).toBeLessThan(4_000);
  });

  it("closes connections past max_connections at once, and serves again when one ends", async () => {
    listener = await listen("127.0.0.1", 0, echo, { maxConnections: 2 });
    const { hostname, port } = new URL(listener.url);
    const held = [connect(Number(port), hostname), connect(Number(port), hostname)];
    await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
    await new Promise((r) => setTimeout(r, 100));
    const refused = await rawExchange(listener.url, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3_000);
    expect(refused).toMatchObject({ closed: true, text: "" });
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const served = await rawExchange(
      listener.url,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      3_000,
    );
    expect(served.text).toMatch(/^HTTP\/1\.1 200/);
  });
});
