import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { TcpProxy } from "../sessions/tcp-proxy.js";
import { type ReplicaBackend, startReplicaBackend } from "../support/replicas/backend.js";
import { type Loose, mcpPost, openSession } from "../support/replicas/client.js";

/** A gateway whose Redis goes away and comes back (through a proxy the test controls). */
const REDIS_URL = process.env.REDIS_URL;

describe.skipIf(!REDIS_URL)("the gateway when Redis is down (set REDIS_URL to run)", () => {
  let backend: ReplicaBackend;
  let proxy: TcpProxy;
  let http: HttpListener;

  beforeAll(async () => {
    backend = await startReplicaBackend();
    const redis = new URL(REDIS_URL as string);
    proxy = new TcpProxy(redis.hostname, Number(redis.port || 6379));
    await proxy.start();
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        stateKey: randomBytes(32).toString("base64"),
        store: {
          redis: `redis://127.0.0.1:${proxy.port}`,
          keyPrefix: `mcpengine-down-${randomBytes(4).toString("hex")}:`,
        },
        backends: [
          { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
        ],
      }),
    );
    http = await (await createGateway(config)).listen();
  });
  afterAll(async () => {
    await http?.close();
    await proxy?.stop();
    await backend?.close();
  });

  const list = (id: number, session: string) =>
    mcpPost(http.url, { jsonrpc: "2.0", id, method: "tools/list" }, session);
  const statelessList = () =>
    fetch(`${http.url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/list",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      }),
    });

  it("answers session-era requests 503 while Redis is away, serves stateless ones, and recovers without a restart", async () => {
    const session = await openSession(http.url, http.url);
    expect((await list(1, session)).status).toBe(200);

    await proxy.stop();
    const down = await list(2, session);
    expect(down.status).toBe(503);
    const body = (await down.json()) as Loose;
    expect(body.error.message).toMatch(/session store is unavailable/);
    const init = await mcpPost(http.url, {
      jsonrpc: "2.0",
      id: 3,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    expect(init.status).toBe(503);
    const stateless = await statelessList();
    expect(stateless.status).toBe(200);
    expect(((await stateless.json()) as Loose).result.tools.length).toBeGreaterThan(5);

    await proxy.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await list(4, session)).status;
    }
    expect(status).toBe(200);
    expect(await openSession(http.url, http.url)).toBeTruthy();
  }, 20_000);
});
