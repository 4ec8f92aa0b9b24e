import { fileURLToPath } from "node:url";
import { clone, type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { loadSync } from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { DescriptorError } from "../../src/descriptors/index.js";
import { buildRegistry } from "../../src/descriptors/registry.js";
import { repairFiles } from "../../src/descriptors/repair.js";
import { imageRegistry } from "../support/image.js";

const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));

/** The files grpc-node's `@grpc/reflection` serves: protobuf.js descriptors from proto-loader. */
function protobufJsFiles(options: { keepCase?: boolean } = {}): FileDescriptorProto[] {
  const definition = loadSync("mcpengine/interop/v1/interop.proto", {
    includeDirs: [PROTO_ROOT],
    ...options,
  });
  const service = definition["mcpengine.interop.v1.InteropService"] as unknown as {
    Echo: { fileDescriptorProtos?: Buffer[]; requestType: { fileDescriptorProtos: Buffer[] } };
  };
  const bytes = service.Echo.requestType.fileDescriptorProtos;
  return bytes.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

/** What decides the wire and JSON forms: field numbers, kinds, types, JSON names, oneofs. */
function wireShape(m: DescMessage, seen = new Set<string>()): unknown {
  if (seen.has(m.typeName)) return m.typeName;
  seen.add(m.typeName);
  return {
    typeName: m.typeName,
    fields: m.fields.map((f) => ({
      number: f.number,
      jsonName: f.jsonName,
      kind: f.fieldKind,
      oneof: f.oneof?.name,
      scalar: "scalar" in f ? f.scalar : undefined,
      message: f.message ? wireShape(f.message, seen) : undefined,
      enum: f.enum?.values.map((v) => `${v.name}=${v.number}`),
      mapKey: f.fieldKind === "map" ? f.mapKey : undefined,
      presence: f.presence,
    })),
  };
}

const RECORD = "mcpengine.interop.v1.Record";

describe("descriptors as grpc-node's reflection serves them", () => {
  it("have the quirks the repair is for", () => {
    const files = protobufJsFiles();
    expect(files.map((f) => f.name)).toContain("mcpengine_interop_v1.proto");
    expect(files.every((f) => f.dependency.length === 0)).toBe(true);
    const record = files.find((f) => f.package === "mcpengine.interop.v1")?.messageType[0];
    expect(record?.field.find((f) => f.number === 13)?.typeName).toBe("types.v1.Priority");
    expect(() =>
      buildRegistry(
        files.map((f) => clone(FileDescriptorProtoSchema, f)),
        "x",
      ),
    ).not.toThrow();
  });

  it("build the same messages as the buf image, field for field", () => {
    const loaded = buildRegistry(protobufJsFiles({ keepCase: true }), "grpc-node");
    const got = loaded.registry.getMessage(RECORD);
    const want = imageRegistry().getMessage(RECORD);
    if (!got || !want) throw new Error("no Record");
    expect(wireShape(got)).toEqual(wireShape(want));
    expect(loaded.services.map((s) => s.typeName)).toEqual(["mcpengine.interop.v1.InteropService"]);
    expect(loaded.services[0]?.methods.map((m) => [m.name, m.methodKind, m.input.typeName])).toEqual([
      ["Echo", "unary", "mcpengine.interop.v1.EchoRequest"],
      ["Repeat", "server_streaming", "mcpengine.interop.v1.RepeatRequest"],
    ]);
  });

  it("take the well-known types from the bundled files, not the merged google_protobuf.proto", () => {
    const files = repairFiles(protobufJsFiles(), "grpc-node");
    expect(files.map((f) => f.name)).not.toContain("google_protobuf.proto");
    const main = files.find((f) => f.package === "mcpengine.interop.v1");
    expect(main?.dependency).toEqual(
      expect.arrayContaining([
        "mcpengine_interop_types_v1.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/wrappers.proto",
      ]),
    );
  });

  it("marks the lost proto3 optional flag again", () => {
    const loaded = buildRegistry(protobufJsFiles({ keepCase: true }), "grpc-node");
    const note = loaded.registry.getMessage(RECORD)?.fields.find((f) => f.name === "note");
    expect(note?.oneof).toBeUndefined();
    expect(note?.presence).toBe(
      imageRegistry()
        .getMessage(RECORD)
        ?.fields.find((f) => f.name === "note")?.presence,
    );
  });

  it("names the origin, the file, the field and the type that cannot be resolved", () => {
    const files = protobufJsFiles().filter((f) => f.package !== "mcpengine.interop.types.v1");
    let error: unknown;
    try {
      buildRegistry(files, 'backend "interop"');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DescriptorError);
    expect((error as DescriptorError).code).toBe("incomplete");
    expect((error as DescriptorError).message).toMatch(
      /^backend "interop": file "mcpengine_interop_v1\.proto": type "types\.v1\.Priority" used by field mcpengine\.interop\.v1\.Record\.priority is not in the descriptors the server sent$/,
    );
  });
});

describe("well-formed descriptors", () => {
  it("come back unchanged", () => {
    const files = [...imageRegistry().files].map((f) => f.proto);
    const repaired = repairFiles(files, "image");
    expect(repaired).toHaveLength(files.length);
    repaired.forEach((f, i) => {
      expect(f).toBe(files[i]);
    });
  });
});
