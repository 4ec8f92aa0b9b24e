import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EraFront, startEraFront } from "../support/era-front.js";
import { collectJsonLines } from "../support/json-lines.js";
import { type SmackGateway, startSmackGateway } from "../support/smack-gateway.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
const INITIALIZE = {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "raw-host", version: "1" },
};

type TextBlock = { type: string; text?: string };
const text = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as TextBlock[]).map((c) => c.text ?? "").join("\n");

describe("mcpengine proxy between a stdio host and the gateway", () => {
  let stack: SmackGateway;
  let smack: SmackGateway["smack"];
  let http: SmackGateway["http"];
  let only2026: EraFront;
  const home = mkdtempSync(join(tmpdir(), "mcpengine-proxy-home-"));

  beforeAll(async () => {
    stack = await startSmackGateway();
    ({ smack, http } = stack);
    only2026 = await startEraFront(stack.mcpUrl, "2026-07-28");
  });
  afterAll(async () => {
    await only2026?.close();
    await stack?.close();
  });

  /** A host (the official SDK client over stdio) that spawns `mcpengine proxy <url>`. */
  async function host(url: string) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "proxy", url, "--no-browser"],
      env: { ...process.env, MCPENGINE_HOME: home } as Record<string, string>,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-host", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  }

  it.each([
    ["Streamable HTTP with sessions", () => `${http.url}/mcp`],
    ["2024-11-05 HTTP+SSE", () => `${http.url}/sse`],
    ["a server that speaks only 2026-07-28", () => only2026.url],
  ])("lists and calls Smack's tools over %s", async (_era, url) => {
    const { client } = await host(url());
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual([
        "list_channels",
        "read_channel",
        "watch_channel",
        "write_to_channel",
      ]);
      const channel = `proxy-${Math.random().toString(36).slice(2, 8)}`;
      const wrote = await client.callTool({
        name: "write_to_channel",
        arguments: { channel, text: "via the proxy" },
      });
      expect(wrote.isError, text(wrote)).toBeFalsy();
      const read = await client.callTool({ name: "read_channel", arguments: { channel } });
      expect(text(read)).toContain("via the proxy");
    } finally {
      await client.close();
    }
  });

  it("relays progress of a streaming tool in order, before its result", async () => {
    // A raw host: the official SDK client (1.x) runs notification handlers a microtask late and
    // drops a progress read in the same chunk as its result, so it cannot check the order itself.
    const proxy = spawn(process.execPath, [BIN, "proxy", `${http.url}/mcp`, "--no-browser"], {
      env: { ...process.env, MCPENGINE_HOME: home },
      stdio: ["pipe", "pipe", "ignore"],
    });
    const lines = collectJsonLines<{ id?: number; method?: string; params?: { progress?: number } }>(
      proxy.stdout,
    );
    const send = (m: object) => proxy.stdin.write(`${JSON.stringify(m)}\n`);
    try {
      send({ jsonrpc: "2.0", id: 0, method: "initialize", params: INITIALIZE });
      await expect.poll(() => lines.length, { timeout: 10_000 }).toBe(1);
      send({ jsonrpc: "2.0", method: "notifications/initialized" });
      const channel = `watch-${Math.random().toString(36).slice(2, 8)}`;
      send({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "watch_channel",
          arguments: { channel, maxMessages: 2, maxWait: "5s" },
          _meta: { progressToken: "w" },
        },
      });
      await expect.poll(() => smack.watchers(channel), { timeout: 5_000 }).toBe(1);
      send({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "write_to_channel", arguments: { channel, text: "one" } },
      });
      await expect.poll(() => lines.some((l) => l.id === 2), { timeout: 5_000 }).toBe(true);
      send({
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "write_to_channel", arguments: { channel, text: "two" } },
      });
      await expect.poll(() => lines.some((l) => l.id === 1), { timeout: 5_000 }).toBe(true);
      const watch = lines.filter((l) => l.method === "notifications/progress" || l.id === 1);
      expect(watch.map((l) => l.params?.progress ?? `result ${l.id}`)).toEqual([1, 2, "result 1"]);
    } finally {
      proxy.stdin.end();
    }
  });

  it("exits cleanly when the host closes its stdin", async () => {
    const { client, transport } = await host(`${http.url}/mcp`);
    await client.listTools();
    const pid = transport.pid;
    expect(pid).toBeTruthy();
    await client.close();
    await expect.poll(() => alive(pid ?? 0), { timeout: 5_000 }).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
