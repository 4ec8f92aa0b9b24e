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
import { trailerStatus } from "../../src/invoke/grpc-status.js";
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

/** One gRPC length-prefixed message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

async function* single<T>(value: T): AsyncIterable<T> {
  yield value;
}

/**
 * A backend that answers whatever the test scripts: replies that are not
 * valid protobuf, malformed statuses, replies too large to keep. After each,
 * the same transport (the same connection, where it survives) must still
 * serve a good call: nothing a backend sends may end the process or poison
 * the connection for later calls.
 */
describe("the HTTP/2 gRPC client against a misbehaving backend", () => {
  let raw: Http2Server;
  let base: string;
  type Script = (stream: ServerHttp2Stream) => void;
  /** The reply to the next call whose request names the sku "script"; others get a good reply. */
  let script: Script;

  const good = frame(
    toBinary(GetHTTPItemResponseSchema, create(GetHTTPItemResponseSchema, { item: { sku: "ok" } })),
  );
  const respond = (stream: ServerHttp2Stream, body: Buffer[], trailers: Record<string, string>) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers(trailers));
    for (const b of body) stream.write(b);
    stream.end();
  };

  beforeAll(async () => {
    // Node's defaults, as a Connect-node or plain node:http2 backend runs with (10 MiB session memory).
    raw = createHttp2Server();
    raw.on("stream", (stream: ServerHttp2Stream) => {
      const chunks: Buffer[] = [];
      stream.on("error", () => {});
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const scripted = Buffer.concat(chunks).includes("script");
        if (scripted) return script(stream);
        respond(stream, [good], { "grpc-status": "0" });
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(() => raw?.close());

  /** A call expected to fail: its error. */
  const call = (t: ReturnType<typeof createH2GrpcTransport>, sku: string, signal?: AbortSignal) =>
    t.unary(method, signal, 5_000, undefined, { sku }).then(
      () => new ConnectError("the call succeeded unexpectedly", Code.Unknown),
      (e: unknown) => e as ConnectError,
    );
  const expectServes = async (t: ReturnType<typeof createH2GrpcTransport>) => {
    for (let i = 0; i < 3; i++) {
      const res = await t.unary(method, undefined, 5_000, undefined, { sku: "A" });
      expect(res.message.item?.sku).toBe("ok");
    }
  };

  it("fails a unary reply that is not a valid message of the output type, naming the backend and the type", async () => {
    script = (s) => respond(s, [frame(Buffer.from([0x0a, 0xff, 0x01]))], { "grpc-status": "0" });
    const t = createH2GrpcTransport({ baseUrl: base, name: "inventory" });
    const err = await call(t, "script");
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toContain('backend "inventory"');
    expect(err.rawMessage).toContain("is not a valid mcpengine.testing.v1.GetHTTPItemResponse");
    await expectServes(t);
  });

  it("ends a server stream at its first invalid message, after the good ones", async () => {
    const tailItem = (sku: string) =>
      frame(toBinary(TailItemResponseSchema, create(TailItemResponseSchema, { item: { sku } })));
    script = (s) =>
      respond(s, [tailItem("a"), tailItem("b"), frame(Buffer.from([0x0a, 0x05, 0x01]))], {
        "grpc-status": "0",
      });
    const t = createH2GrpcTransport({ baseUrl: base, name: "inventory" });
    const res = await t.stream(tail, undefined, 5_000, undefined, single({ sku: "script", count: 3 }));
    const got: string[] = [];
    const err = await (async () => {
      for await (const m of res.message) got.push(m.item?.sku ?? "");
    })().catch((e: unknown) => e as ConnectError);
    expect(got).toEqual(["a", "b"]);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Internal);
    expect((err as ConnectError).rawMessage).toContain(
      "is not a valid mcpengine.testing.v1.TailItemResponse",
    );
    await expectServes(t);
  });

  it("keeps the status and message of an error whose grpc-status-details-bin does not decode", async () => {
    script = (s) =>
      respond(s, [], {
        "grpc-status": "5",
        "grpc-message": "no%20such%20item",
        "grpc-status-details-bin": Buffer.from([0x08, 0x05, 0x1a, 0xff]).toString("base64"),
      });
    const t = createH2GrpcTransport({ baseUrl: base });
    const err = await call(t, "script");
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("no such item");
    expect(err.details).toEqual([]);
    await expectServes(t);
  });

  it.each([
    ["an out-of-range status", { "grpc-status": "99", "grpc-message": "odd" }, Code.Unknown, "odd"],
    ["a non-numeric status", { "grpc-status": "five", "grpc-message": "odd" }, Code.Unknown, "odd"],
    [
      "a malformed percent escape",
      { "grpc-status": "13", "grpc-message": "100%zz" },
      Code.Internal,
      "100%zz",
    ],
  ])("reads %s as an error value", async (_what, trailers, code, message) => {
    script = (s) => respond(s, [], trailers);
    const t = createH2GrpcTransport({ baseUrl: base });
    const err = await call(t, "script");
    expect(err.code).toBe(code);
    expect(err.rawMessage).toBe(message);
  });

  it("serves later calls after a caller abandons a reply larger than the backend's session memory", async () => {
    const huge = frame(
      toBinary(
        GetHTTPItemResponseSchema,
        create(GetHTTPItemResponseSchema, { item: { sku: "big", name: "x".repeat(20_000_000) } }),
      ),
    );
    script = (s) => respond(s, [huge], { "grpc-status": "0" });
    const t = createH2GrpcTransport({ baseUrl: base });
    const abort = new AbortController();
    const pending = call(t, "script", abort.signal);
    setTimeout(() => abort.abort(), 20);
    expect((await pending).code).toBe(Code.Canceled);
    await expectServes(t);
  });

  it("fails only the call whose reply exceeds the message limit", async () => {
    const big = frame(
      toBinary(
        GetHTTPItemResponseSchema,
        create(GetHTTPItemResponseSchema, { item: { name: "y".repeat(12_000_000) } }),
      ),
    );
    script = (s) => respond(s, [big], { "grpc-status": "0" });
    const t = createH2GrpcTransport({ baseUrl: base, name: "inventory", maxMessageBytes: 1_000_000 });
    const err = await call(t, "script");
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(/backend "inventory" sent a reply message of \d+ bytes \(limit 1000000\)/);
    await expectServes(t);
  });
});

describe("trailerStatus", () => {
  it("reads a status code outside 0-16 in grpc-status-details-bin, without grpc-status, as UNKNOWN", () => {
    // Found by the property test: google.rpc.Status { code: 17 } and no grpc-status header.
    const err = trailerStatus({ "grpc-status-details-bin": Buffer.from([0x08, 0x11]).toString("base64") });
    expect(err?.code).toBe(Code.Unknown);
  });
});
