import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { createAjv } from "../support/ajv.js";

// Smack's request rules live in its proto as buf.validate / google.api.field_behavior
// options, declared with the repository's own subset of buf/validate/validate.proto.
// The gateway loads Smack's descriptors by reflection, so these tests check that
// the options written with our subset are read by the schema builder and by
// protovalidate (each with protovalidate's own descriptor) end to end.

type TextBlock = { type: string; text?: string };
type Schema = { required?: string[]; properties: Record<string, Record<string, unknown>> };

function text(result: unknown): string {
  return (((result as { content?: unknown }).content ?? []) as TextBlock[])
    .map((c) => c.text ?? "")
    .join("\n");
}

/** Smack behind a gateway, with a count of the SmackService calls that reached Smack. */
interface Stack {
  readonly smack: RunningSmack;
  readonly client: Client;
  /** SmackService methods Smack was called with, in order (reflection not counted). */
  readonly calls: string[];
  close(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const calls: string[] = [];
  const counter: ServerInterceptor = (method, call) => {
    if (method.path.startsWith("/smack.v1.SmackService/")) calls.push(method.path.split("/")[2] ?? "");
    return new ServerInterceptingCall(call);
  };
  const smack = await startSmack({ port: 0, interceptors: [counter] });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
    }),
  );
  const http = await (await createGateway(config)).listen();
  const client = new Client({ name: "smack-validation", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
  return {
    smack,
    client,
    calls,
    async close() {
      await client.close();
      await http.close();
      await smack.close();
    },
  };
}

describe("Smack's proto rules at the gateway", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  const inputSchema = async (name: string): Promise<Schema> => {
    const { tools } = await stack.client.listTools();
    const tool = tools.find((t) => t.name === name);
    if (!tool) throw new Error(`no tool ${name}`);
    return tool.inputSchema as Schema;
  };

  it("lists the required fields, ranges, lengths and patterns in the tool schemas", async () => {
    const channel = { type: "string", minLength: 1, maxLength: 80, pattern: "^[a-z0-9][a-z0-9_-]{0,79}$" };
    const read = await inputSchema("read_channel");
    expect(read.required).toEqual(["channel"]);
    expect(read.properties.channel).toMatchObject(channel);
    expect(read.properties.limit).toMatchObject({ type: "integer", minimum: 1, maximum: 200 });
    expect(read.properties.beforeId).toMatchObject({ minimum: 0 });
    const write = await inputSchema("write_to_channel");
    expect(write.required).toEqual(["channel", "text"]);
    expect(write.properties.channel).toMatchObject(channel);
    expect(write.properties.text).toMatchObject({ type: "string", minLength: 1, maxLength: 4000 });
    const watch = await inputSchema("watch_channel");
    expect(watch.required).toEqual(["channel"]);
    expect(watch.properties.channel).toMatchObject(channel);
    expect(watch.properties.maxMessages).toMatchObject({ type: "integer", minimum: 1, maximum: 100 });
    expect(watch.properties.maxWait).toMatchObject({ type: "string" });
    expect(watch.properties.maxWait?.description).toMatch(/at most 60s[\s\S]*Default 10s/);
  });

  it("calls Smack for valid arguments (the call counter works)", async () => {
    const before = stack.calls.length;
    const res = await stack.client.callTool({
      name: "write_to_channel",
      arguments: { channel: "counted", text: "x".repeat(4000) },
    });
    expect(res.isError, text(res)).toBeFalsy();
    expect(stack.calls.slice(before)).toEqual(["WriteToChannel"]);
  });

  /** [what, tool, arguments, the field the refusal names]. */
  const refusals: [string, string, Record<string, unknown>, string][] = [
    ["a read without a channel", "read_channel", {}, "channel"],
    ["a read of a channel with a space", "read_channel", { channel: "Bad Name" }, "channel"],
    ["a read of an 81-character channel", "read_channel", { channel: "x".repeat(81) }, "channel"],
    ["a read of 0 messages", "read_channel", { channel: "general", limit: 0 }, "limit"],
    ["a read of 201 messages", "read_channel", { channel: "general", limit: 201 }, "limit"],
    ["a read before a negative id", "read_channel", { channel: "general", beforeId: "-1" }, "before_id"],
    ["an empty message", "write_to_channel", { channel: "general", text: "" }, "text"],
    ["a 4001-character message", "write_to_channel", { channel: "general", text: "x".repeat(4001) }, "text"],
    ["a message without a channel", "write_to_channel", { text: "hi" }, "channel"],
    ["a watch of 101 messages", "watch_channel", { channel: "general", maxMessages: 101 }, "max_messages"],
    ["a watch of 0 messages", "watch_channel", { channel: "general", maxMessages: 0 }, "max_messages"],
    ["a watch of 61s", "watch_channel", { channel: "general", maxWait: "61s" }, "max_wait"],
    ["a watch of 0s", "watch_channel", { channel: "general", maxWait: "0s" }, "max_wait"],
  ];

  it.each(refusals)("refuses %s without calling Smack", async (_what, name, args, field) => {
    const before = stack.calls.length;
    const res = await stack.client.callTool({ name, arguments: args });
    expect(res.isError).toBe(true);
    expect(text(res)).toContain(`Invalid arguments for tool "${name}"`);
    expect(text(res)).toContain(`field "${field}"`);
    expect(stack.calls.length).toBe(before);
  });

  it("fails watch_channel with invalid arguments at once, not at the backend deadline", async () => {
    const started = Date.now();
    const res = await stack.client.callTool({
      name: "watch_channel",
      arguments: { channel: "Bad Name", maxMessages: 500 },
    });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/field "channel"[\s\S]*field "max_messages"/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("returns the messages a watch collected when its max_wait elapses", async () => {
    const started = Date.now();
    const watch = stack.client.callTool({
      name: "watch_channel",
      arguments: { channel: "collect", maxMessages: 10, maxWait: "1.5s" },
    });
    await waitFor(() => stack.smack.watchers("collect") === 1);
    for (const t of ["one", "two"]) {
      await stack.client.callTool({ name: "write_to_channel", arguments: { channel: "collect", text: t } });
    }
    const res = await watch;
    expect(res.isError, text(res)).toBeFalsy();
    const { messages } = res.structuredContent as { messages: { message: { text: string } }[] };
    expect(messages.map((m) => m.message.text)).toEqual(["one", "two"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(stack.smack.watchers("collect")).toBe(0);
  });
});

describe("Smack's empty workspace through the gateway", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("answers list_channels with structured content its output schema accepts", async () => {
    const { tools } = await stack.client.listTools();
    const schema = tools.find((t) => t.name === "list_channels")?.outputSchema;
    if (!schema) throw new Error("list_channels has no output schema");
    const res = await stack.client.callTool({ name: "list_channels", arguments: {} });
    expect(res.isError, text(res)).toBeFalsy();
    const validate = createAjv().compile(schema);
    expect(validate(res.structuredContent), JSON.stringify(validate.errors)).toBe(true);
    expect(JSON.parse(text(res))).toEqual(res.structuredContent);
  });

  // ProtoJSON leaves empty lists out; replies always carry them (src/invoke/reply-json.ts).
  it("answers list_channels with an empty channels list, which its output schema requires", async () => {
    const { tools } = await stack.client.listTools();
    expect(tools.find((t) => t.name === "list_channels")?.outputSchema?.required).toEqual(["channels"]);
    const res = await stack.client.callTool({ name: "list_channels", arguments: {} });
    expect(res.structuredContent).toEqual({ channels: [] });
  });
});

async function waitFor(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
