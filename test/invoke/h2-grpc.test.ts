import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import {
  GetHTTPItemResponseSchema,
  InventoryService,
  TailItemResponseSchema,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { createH2GrpcTransport } from "../../src/invoke/index.js";
import { startConnectServer } from "../support/echo-server.js";

/** The gateway's own gRPC client against a real gRPC server (Connect-node over h2c). */
let server: Awaited<ReturnType<typeof startConnectServer>>;
let cancelledOnServer = 0;

beforeAll(async () => {
  server = await startConnectServer(InventoryService, {
    async getHTTPItem(req, ctx: HandlerContext) {
      if (req.sku === "slow") {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        cancelledOnServer++;
        throw new ConnectError("gone", Code.Canceled);
      }
      if (req.sku === "bad") {
        throw new ConnectError("bad sku", Code.InvalidArgument, undefined, [
          { desc: BadRequestSchema, value: { fieldViolations: [{ field: "sku", description: "is bad" }] } },
        ]);
      }
      return create(GetHTTPItemResponseSchema, {
        item: { sku: req.sku, name: ctx.requestHeader.get("mcpengine-request-id") ?? "" },
      });
    },
    async *tailItem(req) {
      for (let i = 0; i < req.count; i++)
        yield create(TailItemResponseSchema, { item: { sku: `${req.sku}-${i}` } });
    },
  });
});
afterAll(() => server?.close());

const method = InventoryService.method.getHTTPItem;
const tail = InventoryService.method.tailItem;

describe("the HTTP/2 gRPC client", () => {
  it("makes a unary call with metadata", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const res = await t.unary(method, undefined, 5_000, { "mcpengine-request-id": "42" }, { sku: "A" });
    expect(res.message.item).toMatchObject({ sku: "A", name: "42" });
  });

  it("decodes the status and google.rpc details of a failed call", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const err = await t.unary(method, undefined, 5_000, undefined, { sku: "bad" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    const ce = err as ConnectError;
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(ce.rawMessage).toBe("bad sku");
    expect(ce.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("sku");
  });

  it("reads a server stream in order", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const res = await t.stream(
      tail,
      undefined,
      5_000,
      undefined,
      (async function* () {
        yield { sku: "S", count: 300 };
      })(),
    );
    const skus: string[] = [];
    for await (const m of res.message) skus.push(m.item?.sku ?? "");
    expect(skus).toHaveLength(300);
    expect(skus[299]).toBe("S-299");
  });

  it("cancels the call on abort, and the server sees it", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const abort = new AbortController();
    const before = cancelledOnServer;
    const pending = t
      .unary(method, abort.signal, 30_000, undefined, { sku: "slow" })
      .catch((e: unknown) => e);
    setTimeout(() => abort.abort(), 50);
    expect(((await pending) as ConnectError).code).toBe(Code.Canceled);
    await expect.poll(() => cancelledOnServer).toBe(before + 1);
  });

  it("fails a call at its deadline", async () => {
    const t = createH2GrpcTransport({ baseUrl: server.url });
    const started = Date.now();
    const err = (await t
      .unary(method, undefined, 150, undefined, { sku: "slow" })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("reports an unreachable backend as unavailable", async () => {
    const t = createH2GrpcTransport({ baseUrl: "http://127.0.0.1:1" });
    const err = (await t
      .unary(method, undefined, 2_000, undefined, { sku: "A" })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.Unavailable);
  });
});

/**
 * Framing against a raw HTTP/2 server that writes the gRPC body in chosen
 * pieces: a message across many DATA frames, several in one, a length prefix
 * split in two, and a body that stops mid-message.
 */
describe("the HTTP/2 gRPC client's message framing", () => {
  let raw: Http2Server;
  let base: string;
  /** How the next reply's body is cut into writes. */
  let pieces: (body: Buffer) => Buffer[];

  const frame = (message: Uint8Array) => {
    const out = Buffer.alloc(5 + message.length);
    out.writeUInt32BE(message.length, 1);
    out.set(message, 5);
    return out;
  };
  const item = (sku: string, name = "") =>
    frame(toBinary(TailItemResponseSchema, create(TailItemResponseSchema, { item: { sku, name } })));

  beforeAll(async () => {
    raw = createHttp2Server();
    raw.on("stream", (stream: ServerHttp2Stream) => {
      stream.resume();
      stream.on("end", async () => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        const body = Buffer.concat([item("a", "x".repeat(300_000)), item("b"), item("c")]);
        for (const piece of pieces(body)) {
          stream.write(piece);
          await new Promise((r) => setImmediate(r));
        }
        stream.end();
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(() => raw?.close());

  const read = async () => {
    const t = createH2GrpcTransport({ baseUrl: base });
    const res = await t.stream(tail, undefined, 5_000, undefined, single({ sku: "S", count: 3 }));
    const got: { sku: string; length: number }[] = [];
    for await (const m of res.message) got.push({ sku: m.item?.sku ?? "", length: m.item?.name.length ?? 0 });
    return got;
  };
  const expected = [
    { sku: "a", length: 300_000 },
    { sku: "b", length: 0 },
    { sku: "c", length: 0 },
  ];

  it("reads messages written in one piece", async () => {
    pieces = (body) => [body];
    expect(await read()).toEqual(expected);
  });

  it("reads a large message across many small pieces", async () => {
    pieces = (body) =>
      Array.from({ length: Math.ceil(body.length / 1000) }, (_, i) =>
        body.subarray(i * 1000, (i + 1) * 1000),
      );
    expect(await read()).toEqual(expected);
  });

  it("reads a length prefix split across pieces", async () => {
    pieces = (body) => [body.subarray(0, 3), body.subarray(3, 300_007), body.subarray(300_007)];
    expect(await read()).toEqual(expected);
  });

  it("fails a body that ends inside a message", async () => {
    pieces = (body) => [body.subarray(0, 200_000)];
    const err = (await read().catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Internal);
    expect(err.message).toContain("truncated");
  });
});

async function* single<T>(value: T): AsyncIterable<T> {
  yield value;
}
