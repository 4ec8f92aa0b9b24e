import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { collectJsonLines } from "../support/json-lines.js";
import { type SmackGateway, startSmackGateway } from "../support/smack-gateway.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
};

type Line = { id?: string | number; method?: string; result?: { [k: string]: unknown }; error?: unknown };

/** A 2026-07-28 host: raw JSON lines over the proxy's stdio, every request with the revision's `_meta`. */
function statelessHost(url: string) {
  const home = mkdtempSync(join(tmpdir(), "mcpengine-2026-host-"));
  const proxy: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, "proxy", url, "--no-browser"], {
    env: { ...process.env, MCPENGINE_HOME: home },
  });
  const lines = collectJsonLines<Line>(proxy.stdout);
  let next = 0;
  return {
    async request(method: string, params: { [k: string]: unknown } = {}): Promise<Line> {
      const id = ++next;
      proxy.stdin.write(
        `${JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: META } })}\n`,
      );
      await expect.poll(() => lines.some((l) => l.id === id), { timeout: 10_000 }).toBe(true);
      return lines.find((l) => l.id === id) as Line;
    },
    close: () => proxy.stdin.end(),
  };
}

async function listen(
  handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => Promise<void>,
) {
  const server = createServer((req, res) => void handler(req, res).catch(() => res.writeHead(500).end()));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

describe("a host that speaks 2026-07-28 over stdio", () => {
  let stack: SmackGateway;
  /** An official SDK 1.x server: sessions only, and a tool that asks the user through elicitation. */
  let sessionOnly: Server;
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  beforeAll(async () => {
    stack = await startSmackGateway();
    sessionOnly = await listen(async (req, res) => {
      const id = req.headers["mcp-session-id"] as string | undefined;
      const known = id === undefined ? undefined : sessions.get(id);
      if (req.method !== "POST") return known ? known.handleRequest(req, res) : void res.writeHead(400).end();
      let text = "";
      for await (const c of req) text += c;
      const body = JSON.parse(text) as unknown;
      if (known) return known.handleRequest(req, res, body);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
      });
      const server = new McpServer({ name: "sdk-sessions", version: "1.0.0" });
      server.registerTool("greet", { inputSchema: { name: z.string() } }, async ({ name }) => {
        const answer = await server.server.elicitInput({
          message: "How should I greet?",
          requestedSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
        });
        return { content: [{ type: "text", text: `${String(answer.content?.word)}, ${name}` }] };
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    });
  });
  afterAll(async () => {
    for (const t of sessions.values()) await t.close();
    sessionOnly?.closeAllConnections();
    sessionOnly?.close();
    await stack?.close();
  });

  it("reaches a 2026-07-28 server directly: discover, list and call", async () => {
    const host = statelessHost(stack.mcpUrl);
    try {
      const discover = await host.request("server/discover");
      expect(discover.result?.supportedVersions).toContain("2026-07-28");
      const list = await host.request("tools/list");
      expect(((list.result?.tools ?? []) as { name: string }[]).map((t) => t.name)).toContain("read_channel");
      const call = await host.request("tools/call", { name: "list_channels", arguments: {} });
      expect(call.result?.resultType).toBe("complete");
    } finally {
      host.close();
    }
  });

  it("reaches a server that speaks only sessions, with elicitation turned into input_required", async () => {
    const port = (sessionOnly.address() as AddressInfo).port;
    const host = statelessHost(`http://127.0.0.1:${port}/mcp`);
    try {
      const discover = await host.request("server/discover");
      expect(discover.result).toMatchObject({
        supportedVersions: ["2026-07-28"],
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "sdk-sessions" } },
        resultType: "complete",
      });
      const list = await host.request("tools/list");
      expect(((list.result?.tools ?? []) as { name: string }[]).map((t) => t.name)).toEqual(["greet"]);

      const first = await host.request("tools/call", { name: "greet", arguments: { name: "Ada" } });
      expect(first.result?.resultType).toBe("input_required");
      const requests = first.result?.inputRequests as { [k: string]: { method: string } };
      const [key, asked] = Object.entries(requests)[0] ?? [];
      expect(asked?.method).toBe("elicitation/create");

      const done = await host.request("tools/call", {
        name: "greet",
        arguments: { name: "Ada" },
        inputResponses: { [key as string]: { action: "accept", content: { word: "Hello" } } },
        requestState: first.result?.requestState,
      });
      expect(done.result?.resultType).toBe("complete");
      expect(JSON.stringify(done.result?.content)).toContain("Hello, Ada");
    } finally {
      host.close();
    }
  });
});
