import { randomUUID } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";

const databases = [
  { name: "PGlite", databaseUrl: undefined },
  { name: "Postgres", databaseUrl: process.env.DATABASE_URL },
];

type TextBlock = { type: string; text?: string };

function text(result: unknown): string {
  return (((result as { content?: unknown }).content ?? []) as TextBlock[])
    .map((c) => c.text ?? "")
    .join("\n");
}

describe.each(databases)("Smack behind the gateway on $name", ({ name, databaseUrl }) => {
  const skip = name === "Postgres" && !databaseUrl;
  let smack: Awaited<ReturnType<typeof startSmack>>;
  let http: HttpListener;
  let client: Client;

  beforeAll(async () => {
    if (skip) return;
    smack = await startSmack({
      port: 0,
      ...(databaseUrl ? { databaseUrl, schema: `e2e_${randomUUID().slice(0, 8)}` } : {}),
    });
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
      }),
    );
    const gateway = await createGateway(config);
    http = await gateway.listen();
    client = new Client({ name: "e2e", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
  });

  afterAll(async () => {
    if (skip) return;
    await client?.close();
    await http?.close();
    await smack?.close();
  });

  it.skipIf(skip)("lists Smack's tools with schemas and descriptions from the proto", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
    const read = tools.find((t) => t.name === "read_channel");
    expect(read?.description).toMatch(/Read the most recent messages/);
    expect(read?.title).toBe("Read channel");
    expect(read?.annotations?.readOnlyHint).toBe(true);
    expect(read?.inputSchema.properties).toHaveProperty("channel");
  });

  it.skipIf(skip)("writes and reads messages, as anonymous without identity", async () => {
    const written = await client.callTool({
      name: "write_to_channel",
      arguments: { channel: "general", text: "hi" },
    });
    expect(written.isError).toBeFalsy();
    expect(written.structuredContent).toMatchObject({
      message: { channel: "general", author: "anonymous", text: "hi" },
    });
    await client.callTool({ name: "write_to_channel", arguments: { channel: "general", text: "second" } });
    const read = await client.callTool({
      name: "read_channel",
      arguments: { channel: "general", limit: 10 },
    });
    expect(read.isError).toBeFalsy();
    const messages = (read.structuredContent as { messages: { text: string }[] }).messages;
    expect(messages.map((m) => m.text)).toEqual(["hi", "second"]);
    expect(JSON.parse(text(read))).toEqual(read.structuredContent);
  });

  it.skipIf(skip)("serves a channel as a resource through the template on ReadChannel", async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      expect.objectContaining({
        uriTemplate: "smack://channels/{channel}/messages",
        mimeType: "application/json",
      }),
    ]);
    await client.callTool({ name: "write_to_channel", arguments: { channel: "res", text: "as a resource" } });
    const { contents } = await client.readResource({ uri: "smack://channels/res/messages" });
    expect(contents[0]?.mimeType).toBe("application/json");
    const body = JSON.parse(String((contents[0] as { text?: string }).text));
    expect(body.messages.map((m: { text: string }) => m.text)).toEqual(["as a resource"]);
  });

  it.skipIf(skip)("returns a tool error naming the field for a bad argument", async () => {
    const res = await client.callTool({
      name: "read_channel",
      arguments: { channel: "general", limit: "many" },
    });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/limit/);
    // Channel names follow the proto's buf.validate rules: the gateway refuses a bad one itself.
    const invalid = await client.callTool({
      name: "write_to_channel",
      arguments: { channel: "Bad Name!", text: "x" },
    });
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toMatch(/Invalid arguments for tool "write_to_channel":[\s\S]*field "channel"/);
  });

  it.skipIf(skip)("returns a tool error with the backend's details for a backend failure", async () => {
    const notFound = await client.callTool({
      name: "read_channel",
      arguments: { channel: "no-such-channel" },
    });
    expect(notFound.isError).toBe(true);
    expect(text(notFound)).toContain("NOT_FOUND");
  });

  it.skipIf(skip)("answers an unknown tool with a JSON-RPC error", async () => {
    await expect(client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toThrow(/Unknown tool/);
  });
});
