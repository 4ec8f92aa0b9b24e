import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { statelessRequest } from "../support/stateless.js";

/**
 * Real MCP clients of every protocol era against Smack behind the gateway:
 * the official SDK 1.x (Streamable HTTP sessions and 2024-11-05 SSE), the 2.x
 * client pinned to 2026-07-28 (stateless), and the MCP Inspector CLI.
 */
let smack: RunningSmack;
let http: HttpListener;

beforeAll(async () => {
  smack = await startSmack({ port: 0 });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
    }),
  );
  http = await (await createGateway(config)).listen();
});
afterAll(async () => {
  await http?.close();
  await smack?.close();
});

type Content = {
  content?: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
};

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Posts `count` messages to a channel once a watcher is attached. */
async function postWhenWatched(client: Client | ClientV2, channel: string, count: number): Promise<void> {
  await until(() => smack.watchers(channel) > 0);
  for (let i = 0; i < count; i++) {
    await client.callTool({ name: "write_to_channel", arguments: { channel, text: `m${i}` } });
  }
}

describe("@modelcontextprotocol/sdk 1.x, Streamable HTTP session", () => {
  let client: Client;
  beforeAll(async () => {
    client = new Client({ name: "v1", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
  });
  afterAll(() => client?.close());

  it("streams watch_channel messages as progress, then the aggregated result", async () => {
    const seen: { progress: number; message?: string | undefined }[] = [];
    const watch = client.callTool(
      { name: "watch_channel", arguments: { channel: "v1", maxMessages: 3 } },
      undefined,
      {
        onprogress: (p) => {
          seen.push(p);
        },
      },
    );
    await postWhenWatched(client, "v1", 3);
    const result = (await watch) as Content;
    expect(seen.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(JSON.parse(seen[0]?.message ?? "{}")).toMatchObject({ message: { text: "m0" } });
    expect(result.structuredContent).toMatchObject({ messages: [{}, {}, {}] });
  });

  it("cancels the backend RPC when the client cancels the call", async () => {
    const abort = new AbortController();
    const watch = client.callTool({ name: "watch_channel", arguments: { channel: "cancel-me" } }, undefined, {
      signal: abort.signal,
    });
    await until(() => smack.watchers("cancel-me") === 1);
    abort.abort();
    await expect(watch).rejects.toThrow();
    // The backend sees the cancellation: its watch ends.
    await until(() => smack.watchers("cancel-me") === 0);
  });
});

describe("2026-07-28 over raw HTTP", () => {
  it("cancels the backend RPC when the client closes the response", async () => {
    const abort = new AbortController();
    const call = statelessRequest(1, "tools/call", {
      name: "watch_channel",
      arguments: { channel: "drop-me" },
    });
    const pending = fetch(`${http.url}/mcp`, { method: "POST", ...call, signal: abort.signal }).then(
      (res) => res.text(),
      () => "aborted",
    );
    await until(() => smack.watchers("drop-me") === 1);
    abort.abort();
    expect(await pending).toBe("aborted");
    await until(() => smack.watchers("drop-me") === 0);
  });
});

describe("@modelcontextprotocol/sdk 1.x, 2024-11-05 HTTP+SSE", () => {
  it("lists and calls tools", async () => {
    const client = new Client({ name: "sse", version: "1.0.0" });
    await client.connect(new SSEClientTransport(new URL(`${http.url}/sse`)));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("read_channel");
    await client.callTool({ name: "write_to_channel", arguments: { channel: "sse", text: "over sse" } });
    const read = (await client.callTool({ name: "read_channel", arguments: { channel: "sse" } })) as Content;
    expect(read.structuredContent).toMatchObject({ messages: [{ text: "over sse" }] });
    await client.close();
  });
});

describe("@modelcontextprotocol/client 2.x, 2026-07-28", () => {
  let client: ClientV2;
  beforeAll(async () => {
    client = new ClientV2(
      { name: "v2", version: "2.0.0" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    await client.connect(new HttpV2(new URL(`${http.url}/mcp`)));
  });
  afterAll(() => client?.close());

  it("negotiates the stateless revision and lists and calls tools", async () => {
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(client.getProtocolEra()).not.toBe("legacy");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
    await client.callTool({ name: "write_to_channel", arguments: { channel: "v2", text: "stateless" } });
    const read = (await client.callTool({ name: "read_channel", arguments: { channel: "v2" } })) as Content;
    expect(read.structuredContent).toMatchObject({ messages: [{ text: "stateless" }] });
  });

  it("streams watch_channel progress on the request's SSE response", async () => {
    const seen: number[] = [];
    const watch = client.callTool({ name: "watch_channel", arguments: { channel: "v2w", maxMessages: 2 } }, {
      onprogress: (p: { progress: number }) => {
        seen.push(p.progress);
      },
    } as never);
    await postWhenWatched(client, "v2w", 2);
    const result = (await watch) as Content;
    expect(seen).toEqual([1, 2]);
    expect(result.structuredContent).toMatchObject({ messages: [{}, {}] });
  });
});

describe("MCP Inspector CLI (--cli)", () => {
  const require = createRequire(import.meta.url);
  const inspector = dirname(require.resolve("@modelcontextprotocol/inspector/package.json"));
  const launcher = join(inspector, "clients", "launcher", "build", "index.js");
  const catalog = join(mkdtempSync(join(tmpdir(), "inspector-")), "mcp.json");
  const run = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [launcher, "--cli", `${http.url}/mcp`, ...args],
      {
        timeout: 30_000,
        env: { ...process.env, MCP_CATALOG_PATH: catalog },
      },
    );
    return JSON.parse(stdout) as { tools?: { name: string }[] } & Content;
  };
  /** `tools/call` of `name` with `key=value` arguments. */
  const callTool = (name: string, ...args: string[]) =>
    run("--transport", "http", "--method", "tools/call", "--tool-name", name, "--tool-arg", ...args);

  it("lists tools and calls watch_channel and write_to_channel", async () => {
    const list = await run("--transport", "http", "--method", "tools/list");
    expect(list.tools?.map((t) => t.name)).toContain("watch_channel");
    const wrote = await callTool("write_to_channel", "channel=inspector", "text=hello");
    expect(wrote.structuredContent).toMatchObject({ message: { channel: "inspector", text: "hello" } });
    const watch = callTool("watch_channel", "channel=inspector-watch", "maxMessages=1");
    await until(() => smack.watchers("inspector-watch") > 0, 20_000);
    await callTool("write_to_channel", "channel=inspector-watch", "text=seen");
    expect((await watch).structuredContent).toMatchObject({ messages: [{ message: { text: "seen" } }] });
  });
});
