import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { buildSurface, buildTools } from "../../src/catalog/index.js";
import {
  type BackendHandle,
  contentBlock,
  createArgumentValidator,
  createStateSealer,
  promptResult,
} from "../../src/invoke/index.js";
import { createMcpServer, type Era } from "../../src/mcp/index.js";
import { exchangeOf } from "../support/exchange.js";
import { imageRegistry, imageService } from "../support/image.js";

const everything = [{ backend: "e", services: [imageService("conformance.v1.EverythingService")] }];

describe("the protocol core", () => {
  const tools = buildTools(everything);
  const core = createMcpServer({
    info: { name: "t", version: "1" },
    tools,
    surface: buildSurface(everything),
    backends: new Map(),
    pageSize: 7,
  });
  const call = async (method: string, params: Record<string, unknown> = {}, era: Era = "session") =>
    (await core.handle({ jsonrpc: "2.0", id: 1, method, params: params as never }, exchangeOf(era))) as {
      result?: Record<string, unknown>;
      error?: { code: number; data?: unknown };
    };

  it("pages tools/list with opaque cursors, in a deterministic order, to the end", async () => {
    const names: string[] = [];
    let cursor: unknown;
    let pages = 0;
    do {
      const { result } = await call("tools/list", cursor === undefined ? {} : { cursor });
      names.push(...((result?.tools ?? []) as { name: string }[]).map((t) => t.name));
      cursor = result?.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 20);
    expect(names).toEqual(tools.map((t) => t.name));
    expect(pages).toBe(Math.ceil(tools.length / 7));
    expect((await call("tools/list", { cursor: "bogus" })).error?.code).toBe(-32602);
  });

  it("lists resources, templates and prompts from their options", async () => {
    const resources = (await call("resources/list")).result?.resources as {
      uri: string;
      mimeType?: string;
    }[];
    expect(resources.map((r) => r.uri)).toEqual([
      "test://static-binary",
      "test://static-text",
      "test://watched-resource",
    ]);
    const templates = (await call("resources/templates/list")).result?.resourceTemplates;
    expect(templates).toEqual([
      expect.objectContaining({ uriTemplate: "test://template/{id}/data", mimeType: "application/json" }),
    ]);
    const prompts = (await call("prompts/list")).result?.prompts as { name: string; arguments: unknown[] }[];
    expect(prompts.find((p) => p.name === "test_prompt_with_arguments")?.arguments).toEqual([
      { name: "arg1", description: "First test argument", required: true },
      { name: "arg2", description: "Second test argument", required: true },
    ]);
  });

  it("omits the output schema of tools that answer in MCP content", async () => {
    const { result } = await call("tools/list", { cursor: undefined });
    const simple = ((result?.tools ?? []) as { name: string; outputSchema?: unknown }[]).find(
      (t) => t.name === "test_audio_content",
    );
    expect(simple && "outputSchema" in simple).toBe(false);
  });

  it("answers removed methods as unknown in 2026-07-28 and new ones as unknown with sessions", async () => {
    expect((await call("ping", {}, "stateless")).error?.code).toBe(-32601);
    expect((await call("server/discover", {}, "session")).error?.code).toBe(-32601);
    const discover = (await call("server/discover", {}, "stateless")).result;
    expect(discover).toMatchObject({
      resultType: "complete",
      capabilities: { tools: {}, prompts: {}, completions: {}, resources: { subscribe: true } },
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "t", version: "1" } },
    });
  });

  it("reports an unknown resource as -32002 with sessions and -32602 in 2026-07-28", async () => {
    expect((await call("resources/read", { uri: "test://nope" })).error).toMatchObject({
      code: -32002,
      data: { uri: "test://nope" },
    });
    expect((await call("resources/read", { uri: "test://nope" }, "stateless")).error?.code).toBe(-32602);
  });

  it("refuses missing required prompt arguments", async () => {
    const res = await call("prompts/get", { name: "test_prompt_with_arguments", arguments: { arg1: "a" } });
    expect(res.error).toMatchObject({ code: -32602 });
  });
});

describe("backend failures behind resources, prompts and completions", () => {
  /** A backend whose every RPC fails with `code`. */
  function failing(code: Code): BackendHandle {
    const fail = async (): Promise<never> => {
      throw new ConnectError("the backend refuses", code);
    };
    const transport: Transport = { unary: fail, stream: fail };
    const registry = imageRegistry();
    return { name: "e", transport, registry, timeoutMs: 1_000, validator: createArgumentValidator(registry) };
  }
  const answer = async (code: Code, method: string, params: Record<string, unknown>, era: Era) => {
    const core = createMcpServer({
      info: { name: "t", version: "1" },
      tools: buildTools(everything),
      surface: buildSurface(everything),
      backends: new Map([["e", failing(code)]]),
    });
    const res = await core.handle(
      { jsonrpc: "2.0", id: 1, method, params: params as never },
      exchangeOf(era),
    );
    return (res as { error?: { code: number; message: string; data?: unknown } }).error;
  };
  const READ = ["resources/read", { uri: "test://static-text" }] as const;
  const TEMPLATE = ["resources/read", { uri: "test://template/7/data" }] as const;
  const PROMPT = ["prompts/get", { name: "test_simple_prompt" }] as const;
  const COMPLETE = [
    "completion/complete",
    {
      ref: { type: "ref/prompt", name: "test_prompt_with_arguments" },
      argument: { name: "arg1", value: "" },
    },
  ] as const;

  it.each([
    ["a resource read", READ],
    ["a templated resource read", TEMPLATE],
    ["a prompt", PROMPT],
    ["a completion", COMPLETE],
  ])(
    "answers INVALID_ARGUMENT and OUT_OF_RANGE of %s as -32602 Invalid params, in both eras",
    async (_, [method, params]) => {
      for (const code of [Code.InvalidArgument, Code.OutOfRange]) {
        for (const era of ["session", "stateless"] as const) {
          const error = await answer(code, method, params, era);
          expect(error?.code, `${Code[code]} in the ${era} era`).toBe(-32602);
          expect(error?.message).toContain("the backend refuses");
        }
      }
    },
  );

  it("answers NOT_FOUND of a resource read as resource not found: -32002 with sessions, -32602 stateless", async () => {
    expect(await answer(Code.NotFound, ...READ, "session")).toEqual({
      code: -32002,
      message: "Resource not found: test://static-text",
      data: { uri: "test://static-text" },
    });
    expect(await answer(Code.NotFound, ...READ, "stateless")).toMatchObject({
      code: -32602,
      data: { uri: "test://static-text" },
    });
  });

  it("answers other backend failures as -32603 with the backend's status in the message", async () => {
    expect(await answer(Code.Unavailable, ...READ, "session")).toEqual({
      code: -32603,
      message:
        "The backend is unavailable (UNAVAILABLE): the backend refuses\nThis error is transient; the call may be retried.",
    });
    expect((await answer(Code.NotFound, ...PROMPT, "stateless"))?.code).toBe(-32603);
  });
});

describe("request state sealing", () => {
  const sealer = createStateSealer(Buffer.alloc(32, 7));

  it("opens what it sealed, for the same operation only", () => {
    const token = sealer.seal(new TextEncoder().encode("state"), "tools/call\0a");
    expect(new TextDecoder().decode(sealer.open(token, "tools/call\0a"))).toBe("state");
    expect(sealer.open(token, "tools/call\0b")).toBeUndefined();
  });

  it("refuses altered or expired tokens", () => {
    const token = sealer.seal(new Uint8Array([1, 2, 3]), "x");
    const [expiry, body, mac] = token.split(".");
    expect(sealer.open(`${expiry}.${body}A.${mac}`, "x")).toBeUndefined();
    expect(sealer.open(`${Number(expiry) + 1}.${body}.${mac}`, "x")).toBeUndefined();
    const expired = createStateSealer(Buffer.alloc(32, 7), -1).seal(new Uint8Array([1]), "x");
    expect(sealer.open(expired, "x")).toBeUndefined();
  });
});

describe("well-known content translation", () => {
  it("maps every content kind and its annotations", () => {
    expect(
      contentBlock({ text: { text: "hi" }, annotations: { audience: ["user"], priority: 0.5 } }),
    ).toEqual({
      type: "text",
      text: "hi",
      annotations: { audience: ["user"], priority: 0.5 },
    });
    expect(contentBlock({ image: { data: "AAA=", mimeType: "image/png" } })).toEqual({
      type: "image",
      data: "AAA=",
      mimeType: "image/png",
    });
    expect(contentBlock({ resource: { resource: { uri: "x://a", blob: "AQ==" } } })).toEqual({
      type: "resource",
      resource: { uri: "x://a", blob: "AQ==" },
    });
    expect(
      contentBlock({ resourceLink: { uri: "x://b", name: "b", size: "12", mimeType: "text/plain" } }),
    ).toEqual({
      type: "resource_link",
      uri: "x://b",
      name: "b",
      mimeType: "text/plain",
      size: 12,
    });
  });

  it("maps prompt roles", () => {
    expect(
      promptResult({
        messages: [{ role: "ROLE_ASSISTANT", content: { text: { text: "a" } } }, { content: {} }],
      }),
    ).toEqual({
      messages: [
        { role: "assistant", content: { type: "text", text: "a" } },
        { role: "user", content: { type: "text", text: "" } },
      ],
    });
  });
});
