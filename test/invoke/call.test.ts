import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "../../gen/es/google/rpc/error_details_pb.js";
import {
  type GetHTTPItemRequest,
  InventoryService,
  ItemSchema,
  type TailItemRequest,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { buildTools, type ToolDef } from "../../src/catalog/index.js";
import {
  type BackendHandle,
  type CallToolResult,
  callTool,
  createArgumentValidator,
  InflightLimit,
  STATUS_TABLE,
} from "../../src/invoke/index.js";
import { imageRegistry } from "../support/image.js";

type GetImpl = (req: GetHTTPItemRequest, ctx: HandlerContext) => Promise<{ item: ReturnType<typeof item> }>;

function item(sku: string, quantity = 3n) {
  return create(ItemSchema, { sku, name: `Item ${sku}`, quantity });
}

function setup(getItem: GetImpl, timeoutMs = 5_000) {
  const transport = createRouterTransport(({ service }) => {
    service(InventoryService, {
      getHTTPItem: getItem,
      deleteItem: async () => ({}),
      auditItem: async () => ({}),
      uploadItems: async () => ({ count: 0 }),
      async *tailItem(req: TailItemRequest) {
        for (let i = 0; i < req.count; i++) yield { item: item(`${req.sku}-${i}`, BigInt(i)) };
      },
    });
  });
  const registry = imageRegistry();
  const backend: BackendHandle = {
    name: "inv",
    transport,
    registry,
    timeoutMs,
    validator: createArgumentValidator(registry),
  };
  const service = registry.getService("mcpengine.testing.v1.InventoryService");
  if (!service) throw new Error("no service");
  const tools = new Map(buildTools([{ backend: "inv", services: [service] }]).map((t) => [t.name, t]));
  const tool = (name: string): ToolDef => {
    const t = tools.get(name);
    if (!t) throw new Error(`no tool ${name}`);
    return t;
  };
  return { backend, tool };
}

function textOf(result: { content: { [k: string]: unknown }[] }): string {
  return result.content.map((c) => String(c.text)).join("\n");
}

/** callTool for RPCs that never ask for input. */
async function call(...args: Parameters<typeof callTool>): Promise<CallToolResult> {
  const outcome = await callTool(...args);
  if (!("done" in outcome)) throw new Error("unexpected input request");
  return outcome.done;
}

describe("callTool", () => {
  it("returns the reply as structuredContent and the same JSON as text", async () => {
    const { backend, tool } = setup(async (req) => ({ item: item(req.sku, 9007199254740993n) }));
    const result = await call(tool("inv_get_http_item"), { sku: "A1" }, backend);
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({
      item: { sku: "A1", name: "Item A1", quantity: "9007199254740993" },
    });
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
  });

  it("rejects an unknown argument as a tool error naming the field", async () => {
    const { backend, tool } = setup(async () => ({ item: item("x") }));
    const result = await call(tool("inv_get_http_item"), { sku: "A1", colour: "red" }, backend);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/colour/);
  });

  it("rejects a wrongly typed argument as a tool error", async () => {
    const { backend, tool } = setup(async () => ({ item: item("x") }));
    const result = await call(tool("inv_get_http_item"), { sku: 12 }, backend);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/sku/);
  });

  it("rejects arguments that are not an object", async () => {
    const { backend, tool } = setup(async () => ({ item: item("x") }));
    const result = await call(tool("inv_get_http_item"), ["A1"], backend);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/must be a JSON object/);
  });

  it("decodes google.rpc error details into readable text", async () => {
    const { backend, tool } = setup(async () => {
      throw new ConnectError("sku is malformed", Code.InvalidArgument, undefined, [
        {
          desc: BadRequestSchema,
          value: { fieldViolations: [{ field: "sku", description: "must be 2-8 characters" }] },
        },
        {
          desc: ErrorInfoSchema,
          value: { reason: "BAD_SKU", domain: "inventory.example", metadata: { sku: "?" } },
        },
      ]);
    });
    const result = await call(tool("inv_get_http_item"), { sku: "?" }, backend);
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toContain("Invalid argument (INVALID_ARGUMENT): sku is malformed");
    expect(text).toContain('- field "sku": must be 2-8 characters');
    expect(text).toContain("- reason BAD_SKU (inventory.example): sku=?");
  });

  it("says when a failure is transient and when to retry", async () => {
    const { backend, tool } = setup(async () => {
      throw new ConnectError("busy", Code.Unavailable, undefined, [
        { desc: RetryInfoSchema, value: { retryDelay: { seconds: 2n, nanos: 500_000_000 } } },
      ]);
    });
    const text = textOf(await call(tool("inv_get_http_item"), { sku: "A" }, backend));
    expect(text).toContain("UNAVAILABLE");
    expect(text).toContain("retry after 2.5s");
    expect(text).toContain("may be retried");
  });

  it.each(Object.entries(STATUS_TABLE))("maps gRPC code %s to a tool error naming it", async (code, row) => {
    const { backend, tool } = setup(async () => {
      throw new ConnectError("boom", Number(code) as Code);
    });
    const result = await call(tool("inv_get_http_item"), { sku: "A" }, backend);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`(${row.name}): boom`);
  });

  it("propagates the backend deadline and reports DEADLINE_EXCEEDED", async () => {
    let seen: number | undefined;
    const { backend, tool } = setup(async (_req, ctx) => {
      seen = ctx.timeoutMs();
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 2_000);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        });
      });
      return { item: item("late") };
    }, 100);
    const result = await call(tool("inv_get_http_item"), { sku: "A" }, backend);
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(100);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("DEADLINE_EXCEEDED");
  });

  it("collects every message of a server-streaming RPC, in order", async () => {
    const { backend, tool } = setup(async () => ({ item: item("x") }));
    const seen: unknown[] = [];
    const result = await call(tool("inv_tail_item"), { sku: "S", count: 3 }, backend, {
      onProgress: (p) => seen.push({ progress: p.progress, message: JSON.parse(p.message ?? "null") }),
    });
    const messages = [0, 1, 2].map((i) => ({
      item: { sku: `S-${i}`, name: `Item S-${i}`, ...(i > 0 ? { quantity: String(i) } : {}) },
    }));
    expect(result.structuredContent).toEqual({ messages });
    expect(seen).toEqual(messages.map((m, i) => ({ progress: i + 1, message: m })));
  });

  it("ends a streamed result that grows past max_result_bytes with a tool error", async () => {
    const { backend, tool } = setup(async () => ({ item: item("x") }));
    const limited = { ...backend, maxResultBytes: 2_000 };
    const result = await call(tool("inv_tail_item"), { sku: "S", count: 5_000 }, limited);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^The result of tool "inv_tail_item" exceeds 2000 bytes after \d+ messages from backend "inv"; the call was cancelled\.$/,
    );
    const whole = await call(tool("inv_tail_item"), { sku: "S", count: 5 }, limited);
    expect(whole.isError).toBeUndefined();
  });

  it("refuses a call at once when the backend already has max_inflight calls, and serves again when one ends", async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reached = 0;
    const { backend, tool } = setup(async (req) => {
      reached++;
      if (req.sku === "slow") await gate;
      return { item: item(req.sku) };
    });
    const limited = { ...backend, limits: [new InflightLimit(2), new InflightLimit(100)] };
    const slow = [1, 2].map(() => call(tool("inv_get_http_item"), { sku: "slow" }, limited));
    await new Promise((r) => setTimeout(r, 20));
    const refused = await call(tool("inv_get_http_item"), { sku: "A" }, limited);
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^Backend "inv" is busy: 2 calls are in flight \(max_inflight\)\./);
    expect(reached).toBe(2);
    release();
    await Promise.all(slow);
    const served = await call(tool("inv_get_http_item"), { sku: "A" }, limited);
    expect(served.isError).toBeUndefined();
  });

  it("cancels the backend RPC when the caller aborts", async () => {
    let backendSawAbort = false;
    const { backend, tool } = setup(async (_req, ctx) => {
      await new Promise<void>((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          backendSawAbort = true;
          reject(ctx.signal.reason);
        });
      });
      return { item: item("never") };
    });
    const abort = new AbortController();
    const pending = call(tool("inv_get_http_item"), { sku: "A" }, backend, { signal: abort.signal });
    setTimeout(() => abort.abort(), 20);
    const result = await pending;
    expect(result.isError).toBe(true);
    expect(backendSawAbort).toBe(true);
  });
});
