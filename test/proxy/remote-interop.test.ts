import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connectRemote, StatelessOnlyError } from "../../src/proxy/remote/detect.js";
import { createLegacySseRemote } from "../../src/proxy/remote/legacy-sse.js";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { NO_AUTH, type Remote, RemoteError } from "../../src/proxy/types.js";
import {
  createHost,
  type Host,
  initializeMessage,
  initializeParams,
  spyFetch,
  until,
} from "./remote-harness.js";

/**
 * Interop with the official SDK's servers (`@modelcontextprotocol/sdk` 1.x):
 * Streamable HTTP with sessions, and the 2024-11-05 SSE transport on a server
 * of its own; plus era detection, including the hook for 2026-07-28-only servers.
 */
function mcpServer(): McpServer {
  const server = new McpServer({ name: "sdk-echo", version: "1.0.0" });
  server.registerTool(
    "echo",
    { description: "Echoes its text", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text: `echo: ${text}` }] }),
  );
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<Server> {
  const server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function urlOf(server: Server, path: string): URL {
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
}

async function stop(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The SDK's Streamable HTTP transport, one per session, on /mcp. */
const sessions = new Map<string, StreamableHTTPServerTransport>();
let sdkSession: Server;
/** The SDK's 2024-11-05 SSE transport alone: GET /sse, POST /messages; nothing else. */
const legacySessions = new Map<string, SSEServerTransport>();
let sdkLegacy: Server;
/** A server that refuses `initialize` the way a 2026-07-28-only server does. */
let statelessOnly: Server;

beforeAll(async () => {
  sdkSession = await listen(async (req, res) => {
    const id = req.headers["mcp-session-id"] as string | undefined;
    const known = id === undefined ? undefined : sessions.get(id);
    if (req.method !== "POST") {
      if (!known) return void res.writeHead(404).end();
      return known.handleRequest(req, res);
    }
    const body = await readJson(req);
    if (known) return known.handleRequest(req, res, body);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await mcpServer().connect(transport);
    await transport.handleRequest(req, res, body);
  });
  sdkLegacy = await listen(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.pathname === "/sse") {
      const transport = new SSEServerTransport("/messages", res);
      legacySessions.set(transport.sessionId, transport);
      res.on("close", () => legacySessions.delete(transport.sessionId));
      await mcpServer().connect(transport);
      return;
    }
    const transport = legacySessions.get(url.searchParams.get("sessionId") ?? "");
    if (req.method === "POST" && url.pathname === "/messages" && transport) {
      return transport.handlePostMessage(req, res);
    }
    req.resume();
    res.writeHead(404, { "content-type": "text/plain" }).end("Cannot POST /sse\n");
  });
  statelessOnly = await listen(async (req, res) => {
    req.resume();
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method !== "POST") return void res.writeHead(405).end();
    const [status, error] =
      path === "/unknown-method"
        ? [404, { code: -32601, message: "Method not found: initialize" }]
        : path === "/header-check"
          ? [400, { code: -32020, message: "Missing MCP-Protocol-Version header" }]
          : [
              400,
              {
                code: -32022,
                message: "Unsupported",
                data: { supported: ["2026-07-28"], requested: "none" },
              },
            ];
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, error }));
  });
});
afterAll(async () => {
  for (const t of sessions.values()) await t.close();
  for (const t of legacySessions.values()) await t.close();
  await Promise.all([stop(sdkSession), stop(sdkLegacy), stop(statelessOnly)]);
});

type Result = { result?: { [k: string]: unknown } };

/** initialize, initialized, tools/list and one tools/call through `remote`. */
async function exercise(host: Host, remote: Remote, version: string): Promise<void> {
  const init = (await host.request(remote, "initialize", initializeParams(version))) as Result;
  expect(init.result).toMatchObject({ protocolVersion: version, serverInfo: { name: "sdk-echo" } });
  await host.notify(remote, "notifications/initialized");
  const list = (await host.request(remote, "tools/list")) as Result;
  const tools = (list.result?.tools ?? []) as { name: string }[];
  expect(tools.map((t) => t.name)).toEqual(["echo"]);
  const call = await host.request(remote, "tools/call", { name: "echo", arguments: { text: "hi" } });
  expect(call).toMatchObject({ result: { content: [{ type: "text", text: "echo: hi" }] } });
}

describe("interop with the official SDK's servers", () => {
  it("speaks Streamable HTTP with sessions to StreamableHTTPServerTransport, and deletes the session on close", async () => {
    const host = createHost();
    const spy = spyFetch();
    const remote = createSessionRemote({
      url: urlOf(sdkSession, "/mcp"),
      auth: NO_AUTH,
      onMessage: host.onMessage,
      fetch: spy.fetch,
    });
    await exercise(host, remote, "2025-11-25");
    await until(() => spy.seen.some((r) => r.method === "GET" && r.status === 200));
    expect(sessions.size).toBe(1);
    await remote.close();
    expect(spy.seen.at(-1)).toMatchObject({ method: "DELETE", status: 200 });
    expect(sessions.size).toBe(0);
  });

  it("speaks 2024-11-05 HTTP+SSE to SSEServerTransport, and reports the end of its stream", async () => {
    const host = createHost();
    const errors: Error[] = [];
    const remote = createLegacySseRemote({
      url: urlOf(sdkLegacy, "/sse"),
      auth: NO_AUTH,
      onMessage: host.onMessage,
      onError: (e) => errors.push(e),
    });
    try {
      await exercise(host, remote, "2024-11-05");
      expect(legacySessions.size).toBe(1);
      for (const t of legacySessions.values()) await t.close();
      await until(() => errors.length > 0);
      expect(errors[0]?.message).toMatch(/closed the SSE stream/);
      await expect(host.request(remote, "tools/list")).rejects.toThrow(/the SSE stream failed/);
    } finally {
      await remote.close();
    }
  });
});

describe("connectRemote", () => {
  it.each([
    { server: () => sdkSession, path: "/mcp", era: "session", version: "2025-11-25" },
    { server: () => sdkLegacy, path: "/sse", era: "legacy-sse", version: "2024-11-05" },
  ])("finds the $era era of the SDK server at $path", async ({ server, path, era, version }) => {
    const host = createHost();
    const logs: string[] = [];
    const remote = await connectRemote({
      url: urlOf(server(), path),
      auth: NO_AUTH,
      onMessage: host.onMessage,
      log: (m) => logs.push(m),
      hostInitialize: initializeMessage(0, version),
    });
    try {
      expect(remote.era).toBe(era);
      await until(() => host.messages.some((m) => m.id === 0));
      expect(host.messages[0]).toMatchObject({ id: 0, result: { protocolVersion: version } });
      expect(logs.at(-1)).toMatch(era === "session" ? /sessions/ : /2024-11-05/);
    } finally {
      await remote.close();
    }
  });

  it.each([
    { path: "/unknown-method", supportedVersions: [] },
    { path: "/unsupported-version", supportedVersions: ["2026-07-28"] },
    { path: "/header-check", supportedVersions: [] },
  ])(
    "rejects with StatelessOnlyError for a 2026-07-28-only server ($path)",
    async ({ path, supportedVersions }) => {
      const options = {
        url: urlOf(statelessOnly, path),
        auth: NO_AUTH,
        onMessage: () => {},
        hostInitialize: initializeMessage(1),
      };
      const found = connectRemote(options);
      await expect(found).rejects.toBeInstanceOf(StatelessOnlyError);
      await expect(found).rejects.toMatchObject({ found: { supportedVersions } });
    },
  );

  it("hands a 2026-07-28-only server to the statelessOnly hook", async () => {
    const translated: Remote = { era: "stateless", send: async () => {}, close: async () => {} };
    const remote = await connectRemote({
      url: urlOf(statelessOnly, "/unsupported-version"),
      auth: NO_AUTH,
      onMessage: () => {},
      hostInitialize: initializeMessage(1),
      statelessOnly: async (found) => {
        expect(found.supportedVersions).toEqual(["2026-07-28"]);
        return translated;
      },
    });
    expect(remote).toBe(translated);
  });

  it("fails with the server's first answer when neither era fits", async () => {
    const found = connectRemote({
      url: urlOf(sdkLegacy, "/nothing"),
      auth: NO_AUTH,
      onMessage: () => {},
      hostInitialize: initializeMessage(1),
    });
    await expect(found).rejects.toSatisfy(
      (e) => e instanceof RemoteError && e.status === 404 && /POST of initialize/.test(e.message),
    );
  });

  it("fails with a RemoteError naming the network failure when the server cannot be reached", async () => {
    const gone = await listen(async () => {});
    const url = urlOf(gone, "/mcp");
    await stop(gone);
    const found = connectRemote({
      url,
      auth: NO_AUTH,
      onMessage: () => {},
      hostInitialize: initializeMessage(1),
    });
    await expect(found).rejects.toSatisfy(
      (e) => e instanceof RemoteError && e.status === undefined && /ECONNREFUSED/.test(e.message),
    );
  });
});
