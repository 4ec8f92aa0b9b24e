import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { InteropService } from "../../gen/es/mcpengine/interop/v1/interop_pb.js";
import { wrapTransport } from "../../src/invoke/index.js";

const inner = createRouterTransport(({ service }) => {
  service(InteropService, {
    echo: (req) => ({ record: { text: `echo ${req.record?.text ?? ""}` } }),
    async *repeat(req) {
      for (let i = 0; i < req.count; i++) yield { index: i, record: req.record };
    },
  });
});

describe("wrapTransport", () => {
  it("passes every call through when given no wrappers", async () => {
    const client = createClient(InteropService, wrapTransport(inner, {}));
    expect((await client.echo({ record: { text: "a" } })).record?.text).toBe("echo a");
    const indexes: number[] = [];
    for await (const r of client.repeat({ record: { text: "b" }, count: 2 })) indexes.push(r.index);
    expect(indexes).toEqual([0, 1]);
  });

  it("puts each wrapper around the inner call of its kind only", async () => {
    const seen: string[] = [];
    const transport = wrapTransport(inner, {
      unary:
        (next) =>
        (method, ...rest) => {
          seen.push(`unary ${method.name}`);
          return next(method, ...rest);
        },
      stream:
        (next) =>
        (method, ...rest) => {
          seen.push(`stream ${method.name}`);
          return next(method, ...rest);
        },
    });
    const client = createClient(InteropService, transport);
    await client.echo({ record: { text: "a" } });
    for await (const _ of client.repeat({ count: 1 })) {
      // drained
    }
    expect(seen).toEqual(["unary Echo", "stream Repeat"]);
  });

  it("leaves a kind without a wrapper as the inner transport has it", async () => {
    const seen: string[] = [];
    const transport = wrapTransport(inner, {
      stream:
        (next) =>
        (method, ...rest) => {
          seen.push(method.name);
          return next(method, ...rest);
        },
    });
    const client = createClient(InteropService, transport);
    expect((await client.echo({ record: { text: "c" } })).record?.text).toBe("echo c");
    expect(seen).toEqual([]);
  });
});
