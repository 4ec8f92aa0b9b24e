import type { JsonValue } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { goAvailable, startGoBackend } from "../support/interop/go-backend.js";
import {
  type InteropBackend,
  startGrpcJsBackend,
  startGrpcNodeReflectionBackend,
  startNiceGrpcBackend,
} from "../support/interop/node-backends.js";
import { statelessRequest } from "../support/stateless.js";

/**
 * Real gRPC stacks behind the gateway, each found through its own server
 * reflection: tools listed with the same schemas, a record with every kind of
 * field echoed back unchanged, and a server stream that streams.
 */
const backends: { name: string; start: () => Promise<InteropBackend>; skip: boolean }[] = [
  { name: "grpc-js + ts-proto (our reflection over the buf image)", start: startGrpcJsBackend, skip: false },
  {
    name: "grpc-node @grpc/reflection over proto-loader",
    start: startGrpcNodeReflectionBackend,
    skip: false,
  },
  { name: "nice-grpc + nice-grpc-server-reflection", start: startNiceGrpcBackend, skip: false },
  // CI installs Go (.ci/run); a developer machine without it skips this one.
  { name: "grpc-go reflection (v1alpha)", start: startGoBackend, skip: !goAvailable() && !process.env.CI },
];

/** A record in canonical ProtoJSON (as the gateway writes it) using every kind of field. */
const RECORD: { [k: string]: JsonValue } = {
  i32: -5,
  i64: "-9007199254740993",
  u32: 4294967295,
  u64: "18446744073709551615",
  s64: "-42",
  f64: "9007199254740993",
  dbl: 1.25,
  flt: 1.5,
  flag: true,
  text: "héllo ✓",
  data: "AAEC/w==",
  kind: "KIND_TASK",
  priority: "PRIORITY_HIGH",
  tags: [{ key: "a", value: "b" }],
  counts: { x: "3", y: "-1" },
  tagById: { "7": { key: "k", value: "v" } },
  tree: {
    label: "root",
    children: [{ label: "leaf", children: [{ label: "deeper" }] }],
    created: "2026-11-26T10:00:00.123Z",
  },
  user: "ann",
  at: "2026-11-26T10:00:00.500Z",
  wait: "1.500s",
  extra: { list: [1, "two", null, { nested: true }] },
  maybe: "12",
  words: ["x", "y"],
  note: "n",
};

/**
 * A record as the gateway answers it: ProtoJSON, plus the lists and maps it
 * leaves out when empty (replies always carry them; the output schema requires them).
 */
function withCollections(record: { [k: string]: JsonValue }): { [k: string]: JsonValue } {
  const node = (n: { [k: string]: JsonValue }): { [k: string]: JsonValue } => ({
    ...n,
    children: ((n.children as { [k: string]: JsonValue }[] | undefined) ?? []).map(node),
  });
  return {
    tags: [],
    counts: {},
    tagById: {},
    words: [],
    ...record,
    ...(record.tree ? { tree: node(record.tree as { [k: string]: JsonValue }) } : {}),
  };
}

/**
 * Schemas without the prose, which only servers that keep comments can serve,
 * and without the proto field names accepted beside the JSON names
 * (`patternProperties`): proto-loader renames fields to lowerCamelCase unless
 * told `keepCase`, so a grpc-node server reports only those.
 */
function shape(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(shape);
  if (schema === null || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k]) => k !== "description" && k !== "title" && k !== "patternProperties")
      .map(([k, v]) => [k, shape(v)]),
  );
}

type Tool = { name: string; inputSchema: unknown; outputSchema?: unknown };
let reference: Tool[] | undefined;

describe.each(backends)("a $name backend", ({ start, skip }) => {
  let backend: InteropBackend;
  let http: HttpListener;
  let id = 0;

  const rpc = async (method: string, params: Record<string, unknown>) => {
    const req = statelessRequest(++id, method, params);
    const res = await fetch(`${http.url}/mcp`, { method: "POST", headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result?: { [k: string]: unknown }; error?: unknown };
    expect(body.error).toBeUndefined();
    return body.result ?? {};
  };

  beforeAll(async () => {
    if (skip) return;
    backend = await start();
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "interop", target: backend.url, descriptors: "reflection" }],
      }),
    );
    http = await (await createGateway(config)).listen();
  }, 120_000);

  afterAll(async () => {
    await http?.close();
    await backend?.close();
  });

  it.skipIf(skip)("lists both RPCs as tools with the same schemas as the buf image gives", async () => {
    const { tools } = (await rpc("tools/list", {})) as { tools: Tool[] };
    expect(tools.map((t) => t.name)).toEqual(["echo", "repeat"]);
    // The first backend (ours, from the buf image) is the reference for the others.
    reference ??= tools;
    expect(tools.map((t) => shape(t.inputSchema))).toEqual(reference.map((t) => shape(t.inputSchema)));
    expect(tools.map((t) => shape(t.outputSchema))).toEqual(reference.map((t) => shape(t.outputSchema)));
  });

  it.skipIf(skip)("echoes a record with every kind of field unchanged", async () => {
    const before = backend.calls?.();
    const result = await rpc("tools/call", { name: "echo", arguments: { record: RECORD } });
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({ record: withCollections(RECORD) });
    if (before !== undefined) expect(backend.calls?.()).toBe(before + 1);
  });

  it.skipIf(skip)("streams a server-streaming call's messages in order", async () => {
    const result = await rpc("tools/call", {
      name: "repeat",
      arguments: { record: { text: "r" }, count: 3 },
    });
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({
      messages: [1, 2, 3].map((index) => ({ index, record: withCollections({ text: "r" }) })),
    });
  });
});
