import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEverything, startEverything } from "../../examples/conformance/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { type EraFront, startEraFront } from "../support/era-front.js";
import { collectJsonLines } from "../support/json-lines.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
const WATCHED = "test://watched-resource";

/**
 * Resource subscriptions across eras through the proxy: a session host's
 * resources/subscribe reaching a 2026-07-28-only server (subscriptions/listen),
 * and a 2026-07-28 host's subscriptions/listen reaching a session-only server
 * (resources/subscribe). The conformance fixture behind the gateway reports a
 * change of the watched resource every half second.
 */
describe("resource subscriptions through the proxy", () => {
  let everything: RunningEverything;
  let gateway: HttpListener;
  let only2026: EraFront;
  let sessionsOnly: EraFront;
  const home = mkdtempSync(join(tmpdir(), "mcpengine-subscriptions-"));

  beforeAll(async () => {
    everything = await startEverything(0);
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [
          { name: "everything", target: `http://127.0.0.1:${everything.port}`, descriptors: "reflection" },
        ],
      }),
    );
    gateway = await (await createGateway(config)).listen();
    only2026 = await startEraFront(`${gateway.url}/mcp`, "2026-07-28");
    sessionsOnly = await startEraFront(`${gateway.url}/mcp`, "sessions");
  });
  afterAll(async () => {
    await only2026?.close();
    await sessionsOnly?.close();
    await gateway?.close();
    await everything?.close();
  });

  it("turns a session host's resources/subscribe into subscriptions/listen on a 2026-07-28 server", async () => {
    const client = new Client({ name: "session-host", version: "1.0.0" });
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      updates.push(n.params.uri);
    });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "proxy", only2026.url, "--no-browser"],
        env: { ...process.env, MCPENGINE_HOME: home } as Record<string, string>,
        stderr: "pipe",
      }),
    );
    try {
      expect(client.getServerCapabilities()?.resources?.subscribe).toBe(true);
      // The tasks extension is not defined for the session eras: the proxy does not pass it on.
      expect(client.getServerCapabilities()).not.toHaveProperty("extensions");
      await client.subscribeResource({ uri: WATCHED });
      await expect.poll(() => updates.length, { timeout: 5_000 }).toBeGreaterThan(0);
      expect(updates[0]).toBe(WATCHED);
      await client.unsubscribeResource({ uri: WATCHED });
      await new Promise((r) => setTimeout(r, 300));
      const after = updates.length;
      await new Promise((r) => setTimeout(r, 1_200));
      expect(updates.length).toBe(after);
    } finally {
      await client.close();
    }
  });

  it("turns a 2026-07-28 host's subscriptions/listen into resources/subscribe on a session-only server", async () => {
    const proxy: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [BIN, "proxy", sessionsOnly.url, "--no-browser"],
      { env: { ...process.env, MCPENGINE_HOME: home } },
    );
    const lines = collectJsonLines<{
      id?: number;
      method?: string;
      params?: { uri?: string; _meta?: { [k: string]: unknown } };
    }>(proxy.stdout);
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const send = (m: object) => proxy.stdin.write(`${JSON.stringify(m)}\n`);
    try {
      send({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta } });
      await expect.poll(() => lines.some((l) => l.id === 1), { timeout: 10_000 }).toBe(true);
      send({
        jsonrpc: "2.0",
        id: 2,
        method: "subscriptions/listen",
        params: { notifications: { resourceSubscriptions: [WATCHED] }, _meta: meta },
      });
      await expect
        .poll(() => lines.some((l) => l.method === "notifications/resources/updated"), { timeout: 5_000 })
        .toBe(true);
      const ack = lines.find((l) => l.method === "notifications/subscriptions/acknowledged");
      expect(ack?.params?._meta).toEqual({ "io.modelcontextprotocol/subscriptionId": 2 });
      const update = lines.find((l) => l.method === "notifications/resources/updated");
      expect(update?.params).toMatchObject({
        uri: WATCHED,
        _meta: { "io.modelcontextprotocol/subscriptionId": 2 },
      });
      send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 2, _meta: meta } });
      await expect.poll(() => lines.some((l) => l.id === 2), { timeout: 5_000 }).toBe(true);
    } finally {
      proxy.stdin.end();
    }
  });
});
