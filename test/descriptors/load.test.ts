import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, getOption, hasOption, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";
import { tool } from "../../gen/es/mcpengine/v1/options_pb.js";
import { leadingComment } from "../../src/catalog/index.js";
import { DescriptorError, type LoadedDescriptors, loadDescriptors } from "../../src/descriptors/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { IMAGE_PATH } from "../support/image.js";

function expectSmack(loaded: LoadedDescriptors) {
  const smack = loaded.services.find((s) => s.typeName === "smack.v1.SmackService");
  expect(smack?.methods.map((m) => m.name)).toEqual([
    "ReadChannel",
    "WriteToChannel",
    "ListChannels",
    "WatchChannel",
  ]);
  const read = smack?.methods[0];
  if (!read) throw new Error("no ReadChannel");
  expect(hasOption(read, tool)).toBe(true);
  expect(getOption(read, tool).title).toBe("Read channel");
  expect(leadingComment(read)).toMatch(/^Read the most recent messages/);
  expect(loaded.services.some((s) => s.typeName.startsWith("grpc.reflection."))).toBe(false);
}

describe("loadDescriptors from a file", () => {
  it("reads a buf image with options and comments", async () => {
    expectSmack(await loadDescriptors({ kind: "file", path: IMAGE_PATH }));
  });

  it("reports a missing file", async () => {
    await expect(loadDescriptors({ kind: "file", path: "/nonexistent.binpb" })).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("reports bytes that are not a descriptor set", async () => {
    const path = join(tmpdir(), `garbage-${process.pid}.binpb`);
    writeFileSync(path, Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]));
    await expect(loadDescriptors({ kind: "file", path })).rejects.toBeInstanceOf(DescriptorError);
  });

  it("reports a set whose imports are missing", async () => {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
    const only = set.file.filter((f) => f.name === "smack/v1/smack.proto");
    const path = join(tmpdir(), `partial-${process.pid}.binpb`);
    writeFileSync(path, toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: only })));
    await expect(loadDescriptors({ kind: "file", path })).rejects.toThrow(/mcpengine\/v1\/options\.proto/);
  });
});

describe("loadDescriptors by server reflection", () => {
  let smack: RunningSmack;
  beforeAll(async () => {
    smack = await startSmack({ port: 0 });
  });
  afterAll(() => smack.close());

  it("loads a grpc-js backend's services with options and comments (v1)", async () => {
    const transport = createGrpcTransport({ baseUrl: `http://${smack.address}` });
    expectSmack(await loadDescriptors({ kind: "reflection", transport }));
  });

  it("falls back to v1alpha and completes out-of-order files without well-known types", async () => {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
    const byName = new Map(set.file.map((f) => [f.name, f]));
    const encode = (name: string) => {
      const f = byName.get(name);
      if (!f) throw new Error(name);
      return toBinary(FileDescriptorProtoSchema, f);
    };
    const server = await startConnectServer(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          const r = req.messageRequest;
          if (r.case === "listServices") {
            yield {
              messageResponse: {
                case: "listServicesResponse",
                value: { service: [{ name: "smack.v1.SmackService" }] },
              },
            };
          } else if (r.case === "fileContainingSymbol") {
            // Only the file itself, no imports: the client must ask for those.
            yield {
              messageResponse: {
                case: "fileDescriptorResponse",
                value: { fileDescriptorProto: [encode("smack/v1/smack.proto")] },
              },
            };
          } else if (r.case === "fileByFilename") {
            if (r.value.startsWith("google/protobuf/")) {
              yield {
                messageResponse: { case: "errorResponse", value: { errorCode: 5, errorMessage: "not here" } },
              };
            } else {
              yield {
                messageResponse: {
                  case: "fileDescriptorResponse",
                  value: { fileDescriptorProto: [encode(r.value)] },
                },
              };
            }
          }
        }
      },
    });
    try {
      const transport = createGrpcTransport({ baseUrl: server.url });
      expectSmack(await loadDescriptors({ kind: "reflection", transport }));
    } finally {
      await server.close();
    }
  });

  it("says when a backend offers no reflection", async () => {
    const server = await startConnectServer(v1alpha.ServerReflection, {});
    try {
      const transport = createGrpcTransport({ baseUrl: server.url });
      await expect(loadDescriptors({ kind: "reflection", transport, origin: "nope" })).rejects.toMatchObject({
        code: "unimplemented",
      });
    } finally {
      await server.close();
    }
  });

  it("says when a backend is unreachable, without hanging", async () => {
    const transport = createGrpcTransport({ baseUrl: "http://127.0.0.1:1" });
    await expect(loadDescriptors({ kind: "reflection", transport, timeoutMs: 2_000 })).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});
