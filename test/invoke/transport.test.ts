import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EchoRequest,
  EchoResponseSchema,
  EchoService,
} from "../../gen/es/mcpengine/testing/v1/kitchen_sink_pb.js";
import { buildTools } from "../../src/catalog/index.js";
import {
  type BackendProtocol,
  callTool,
  createArgumentValidator,
  createBackendTransport,
} from "../../src/invoke/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { imageRegistry, imageService } from "../support/image.js";

type Server = Awaited<ReturnType<typeof startConnectServer>>;
let h2c: Server;
let http1: Server;
const seenTimeouts: (string | null)[] = [];
const impl = {
  echo: async (req: EchoRequest, ctx: HandlerContext) => {
    seenTimeouts.push(ctx.requestHeader.get("grpc-timeout") ?? ctx.requestHeader.get("connect-timeout-ms"));
    return create(EchoResponseSchema, { sink: req.sink });
  },
};

beforeAll(async () => {
  h2c = await startConnectServer(EchoService, impl);
  // gRPC-Web backends usually sit behind HTTP/1.1 proxies.
  http1 = await startConnectServer(EchoService, impl, { http1: true });
});
afterAll(() => Promise.all([h2c.close(), http1.close()]));

const [echoTool] = buildTools([
  { backend: "echo", services: [imageService("mcpengine.testing.v1.EchoService")] },
]);

describe.each<BackendProtocol>(["grpc", "connect", "grpc-web"])("a %s backend", (protocol) => {
  it("serves a tool call with the deadline propagated", async () => {
    if (!echoTool) throw new Error("no echo tool");
    const registry = imageRegistry();
    const server = protocol === "grpc-web" ? http1 : h2c;
    const transport = createBackendTransport({ target: `${server.url}/`, protocol });
    const backend = {
      name: "echo",
      transport,
      registry,
      timeoutMs: 1_500,
      validator: createArgumentValidator(registry),
    };
    seenTimeouts.length = 0;
    const outcome = await callTool(echoTool, { sink: { text: "hi", i64: "5" } }, backend);
    if (!("done" in outcome)) throw new Error("unexpected input request");
    const result = outcome.done;
    expect(result.structuredContent, JSON.stringify(result.content)).toEqual({
      sink: expect.objectContaining({ text: "hi", i64: "5", tags: [], counts: {} }),
    });
    const header = seenTimeouts[0];
    expect(header).toBeTruthy();
    // gRPC sends e.g. "1499m"; Connect sends milliseconds.
    expect(Number.parseInt(header ?? "", 10)).toBeLessThanOrEqual(1_500);
  });
});

describe.each<BackendProtocol>(["grpc", "connect", "grpc-web"])(
  "closing a %s backend's transport",
  (protocol) => {
    it.each([1, 3])("ends its connections, with max_attempts %i", async (maxAttempts) => {
      if (!echoTool) throw new Error("no echo tool");
      const registry = imageRegistry();
      const server = protocol === "grpc-web" ? http1 : h2c;
      const transport = createBackendTransport({ target: server.url, protocol, maxAttempts });
      const backend = {
        name: "echo",
        transport,
        registry,
        timeoutMs: 1_500,
        validator: createArgumentValidator(registry),
      };
      const outcome = await callTool(echoTool, { sink: { text: "hi" } }, backend);
      expect("done" in outcome && !outcome.done.isError).toBe(true);
      transport.close();
      transport.close();
    });
  },
);
