import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EchoResponseSchema,
  EchoService,
  type KitchenSink,
  KitchenSinkSchema,
} from "../../gen/es/mcpengine/testing/v1/kitchen_sink_pb.js";
import { replyJson } from "../../src/invoke/reply-json.js";
import { messageToJsonSchema } from "../../src/schema/index.js";
import { createAjv } from "../support/ajv.js";
import { startConnectServer } from "../support/echo-server.js";
import { imageRegistry } from "../support/image.js";

// Descriptors from the buf image carry comments; the registry resolves Any.
const registry = imageRegistry();
const sinkDesc = registry.getMessage("mcpengine.testing.v1.KitchenSink") ?? KitchenSinkSchema;
const input = messageToJsonSchema(sinkDesc, { mode: "input" });
const output = messageToJsonSchema(sinkDesc, { mode: "output" });
const ajv = createAjv();
const validateInput = ajv.compile(input);
const validateOutput = ajv.compile(output);

/** One canonical ProtoJSON value exercising every field (as toJson writes it). */
const canonical: { [k: string]: JsonValue } = {
  i32: -5,
  i64: "-9007199254740993",
  u32: 4294967295,
  u64: "18446744073709551615",
  s32: -7,
  s64: "-42",
  f32: 7,
  f64: "8",
  sf32: -9,
  sf64: "-10",
  flt: 1.5,
  dbl: "NaN",
  flag: true,
  text: "héllo",
  blob: "AAEC/w==",
  colour: "COLOUR_GREEN",
  tags: ["a", "b"],
  bigNumbers: ["1", "-2"],
  colours: ["COLOUR_RED", "COLOUR_GREEN"],
  counts: { a: 1 },
  namesById: { "-3": "minus three", "12": "twelve" },
  byFlag: { true: "yes", false: "no" },
  leaves: { x: { name: "leaf x", weight: 2 } },
  leaf: { name: "solo" },
  leafList: [{ name: "one" }, { weight: 2 }],
  choiceNumber: "77",
  maybe: 0,
  customName: "custom",
  when: "2026-11-25T03:00:00.500Z",
  howLong: "1.500s",
  attrs: { k: [1, "two", null, { deep: true }] },
  anything: { any: "thing" },
  list: [1, "a", false],
  wI32: 3,
  wI64: "4",
  wU32: 5,
  wU64: "6",
  wFlt: "Infinity",
  wDbl: 2.25,
  wBool: false,
  wStr: "",
  wBytes: "",
  mask: "leaf.name,tags",
  extra: { "@type": "type.googleapis.com/mcpengine.testing.v1.Leaf", name: "inside any" },
  nothing: {},
  tree: { label: "root", children: [{ label: "kid", children: [{ label: "grandkid" }] }] },
  ping: { pong: { ping: { depth: 2 } }, depth: 1 },
};

let echo: Awaited<ReturnType<typeof startConnectServer>>;
beforeAll(async () => {
  echo = await startConnectServer(EchoService, {
    echo: async (req) => create(EchoResponseSchema, { sink: req.sink }),
  });
});
afterAll(() => echo.close());

describe("the kitchen-sink schemas", () => {
  it("compile as JSON Schema 2020-12 with every $ref resolved", () => {
    expect(ajv.validateSchema(input)).toBe(true);
    expect(ajv.validateSchema(output)).toBe(true);
    for (const doc of [input, output]) {
      const refs = JSON.stringify(doc).match(/"\$ref":"#\/\$defs\/[^"]+"/g) ?? [];
      const defs = Object.keys((doc.$defs ?? {}) as object);
      for (const ref of refs) expect(defs).toContain(ref.slice('"$ref":"#/$defs/'.length, -1));
      // Only referenced definitions are kept.
      for (const name of defs) expect(refs.some((r) => r.includes(`/${name}"`))).toBe(true);
    }
  });

  it("put recursive messages in $defs and inline the rest", () => {
    expect(Object.keys(input.$defs as object).sort()).toEqual([
      "mcpengine.testing.v1.Ping",
      "mcpengine.testing.v1.Pong",
      "mcpengine.testing.v1.Tree",
    ]);
    expect((input.properties as Record<string, unknown>).leaf).toMatchObject({ type: "object" });
  });

  it("carry field comments as descriptions", () => {
    expect((input.properties as Record<string, { description?: string }>).i32?.description).toBe(
      "A 32-bit integer.",
    );
    expect(input.description).toBe("KitchenSink holds every tricky type of the ProtoJSON mapping.");
  });

  it("accept the canonical value on both sides", () => {
    expect(validateInput(canonical), JSON.stringify(validateInput.errors)).toBe(true);
    const reply = replyJson(sinkDesc, fromJson(sinkDesc, canonical, { registry }), registry);
    expect(validateOutput(reply), JSON.stringify(validateOutput.errors)).toBe(true);
  });

  it("require in replies the lists and maps that every reply carries, empty or not", () => {
    const empty = replyJson(sinkDesc, create(sinkDesc), registry);
    expect(validateOutput(empty), JSON.stringify(validateOutput.errors)).toBe(true);
    expect(validateOutput({})).toBe(false);
    expect(Object.keys(empty).sort()).toEqual([...((output.required as string[]) ?? [])].sort());
  });

  it("round-trip the canonical value through a real echo backend unchanged", async () => {
    const sink: KitchenSink = fromJson(KitchenSinkSchema, canonical, {
      registry,
      ignoreUnknownFields: false,
    });
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: echo.url }));
    const res = await client.echo({ sink });
    if (!res.sink) throw new Error("no sink echoed");
    const back = toJson(KitchenSinkSchema, res.sink, { registry });
    expect(back).toEqual(canonical);
    expect(validateOutput(replyJson(KitchenSinkSchema, res.sink, registry))).toBe(true);
  });
});

/** Input-side rules: [what, arguments, accepted by the schema, accepted by fromJson]. */
const inputCases: [string, { [k: string]: JsonValue }, boolean, boolean][] = [
  ["64-bit integers as numbers", { i64: 12, u64: 7 }, true, true],
  ["64-bit integers as decimal strings", { i64: "-12", u64: "7" }, true, true],
  ["a 64-bit string that is not a number", { i64: "12abc" }, false, false],
  ["a negative unsigned 64-bit integer", { u64: "-1" }, false, false],
  ["a 32-bit integer out of range", { i32: 2147483648 }, false, false],
  ["a fraction for an integer", { i32: 1.5 }, false, false],
  ["an enum by name", { colour: "COLOUR_RED" }, true, true],
  ["an unknown enum name", { colour: "COLOUR_BLUE" }, false, false],
  ["base64 bytes", { blob: "AQID" }, true, true],
  ["base64url bytes", { blob: "-_8" }, true, true],
  ["bytes that are not base64", { blob: "not base64!" }, false, false],
  ["base64 with padding that does not end a group of four", { blob: "AQ=" }, false, true],
  ["base64 with one character left over", { blob: "AQIDB" }, false, false],
  ["one oneof member", { choiceText: "x" }, true, true],
  ["two members of one oneof", { choiceText: "x", choiceNumber: "1" }, false, false],
  ["the proto field name as an alias", { big_numbers: ["1"], custom: "x" }, true, true],
  ["an alias with the wrong type", { big_numbers: [true] }, false, false],
  ["an unknown key", { nope: 1 }, false, false],
  ["a wrong type", { text: 5 }, false, false],
  ["a wrapper set to null", { wI32: null, wStr: null }, true, true],
  ["a Duration with fractions", { howLong: "-0.000000001s" }, true, true],
  ["a Duration in ISO 8601", { howLong: "PT1S" }, false, false],
  ["a Duration without unit", { howLong: "1.5" }, false, false],
  ["a Timestamp", { when: "1972-01-01T10:00:20.021+05:30" }, true, true],
  ["a Timestamp that is not RFC 3339", { when: "yesterday" }, false, false],
  ["an Any without @type", { extra: { name: "x" } }, false, false],
  ["an empty Any", { extra: {} }, false, true],
  ["an Empty with members", { nothing: { x: 1 } }, false, false],
  ["a map with integer keys", { namesById: { "5": "five" } }, true, true],
  ["a map with a non-integer key for int64 keys", { namesById: { five: "5" } }, false, false],
  ["a bool-keyed map with a bad key", { byFlag: { yes: "no" } }, false, false],
  ["a float written as NaN", { flt: "NaN", dbl: "-Infinity" }, true, true],
  ["a deep recursive tree", { tree: { children: [{ children: [{ label: "x" }] }] } }, true, true],
  ["a bad value deep in a recursion", { tree: { children: [{ label: 3 }] } }, false, false],
  ["a proto3 optional", { maybe: 0 }, true, true],
  ["a Struct", { attrs: { a: { b: [1] } } }, true, true],
  ["a Struct that is not an object", { attrs: [1] }, false, false],
  ["a FieldMask", { mask: "a.b,c" }, true, true],
  ["a FieldMask in snake_case", { mask: "a_b" }, false, false],
];

describe.each(inputCases)("input: %s", (_what, args, schemaOk, protoOk) => {
  it(`is ${schemaOk ? "accepted" : "rejected"} by the schema`, () => {
    expect(validateInput(args), JSON.stringify(validateInput.errors)).toBe(schemaOk);
  });
  it(`is ${protoOk ? "accepted" : "rejected"} by fromJson`, () => {
    const decode = () => fromJson(KitchenSinkSchema, args, { registry, ignoreUnknownFields: false });
    if (protoOk) expect(decode).not.toThrow();
    else expect(decode).toThrow();
  });
});

describe("output schema", () => {
  /** An empty reply as the gateway writes it: every list and map present. */
  const empty = () => replyJson(sinkDesc, create(sinkDesc), registry);

  it("writes 64-bit integers only as strings", () => {
    expect(validateOutput({ ...empty(), i64: "5" })).toBe(true);
    expect(validateOutput({ ...empty(), i64: 5 })).toBe(false);
  });

  it("accepts an empty Any, which toJson writes as {}", () => {
    const reply = replyJson(sinkDesc, fromJson(sinkDesc, { extra: {} }, { registry }), registry);
    expect(reply.extra).toEqual({});
    expect(validateOutput(reply), JSON.stringify(validateOutput.errors)).toBe(true);
  });

  it("does not accept proto-name aliases (toJson never writes them)", () => {
    expect(validateOutput({ ...empty(), big_numbers: ["1"] })).toBe(true); // additional keys are not forbidden on output...
    expect((output.properties as object) ?? {}).not.toHaveProperty("big_numbers"); // ...but are not described
  });
});
