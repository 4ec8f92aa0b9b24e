import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { checkArguments } from "../../src/invoke/strict-json.js";
import { messageToJsonSchema } from "../../src/schema/index.js";
import { createAjv } from "../support/ajv.js";
import { imageRegistry } from "../support/image.js";

const registry = imageRegistry();
const echo = registry.getMessage("mcpengine.interop.v1.EchoRequest");
if (!echo) throw new Error("no EchoRequest in the image");
const validate = createAjv().compile(messageToJsonSchema(echo, { mode: "input" }));

/** [what, record, the problem reported (undefined: accepted)] */
const cases: [string, { [k: string]: JsonValue }, RegExp | undefined][] = [
  ["an int32 as a number", { i32: 5 }, undefined],
  ["an int32 as a numeric string", { i32: "5" }, /^record\.i32: expected an integer, got the string "5"$/],
  [
    "a uint32 in a list of tags by id",
    { tagById: { "1": { key: "k" } }, u32: "7" },
    /^record\.u32: expected an integer/,
  ],
  ["an int64 as a string (ProtoJSON's form)", { i64: "5" }, undefined],
  ["an int64 as a number (the schema allows it)", { i64: 5 }, undefined],
  ["a double as a number", { dbl: 1.5 }, undefined],
  ['a double as "NaN"', { dbl: "NaN" }, undefined],
  ["a double as a numeric string", { dbl: "1.5" }, /^record\.dbl: expected a number/],
  ["an enum by name", { kind: "KIND_NOTE" }, undefined],
  ["an enum by number", { kind: 1 }, /^record\.kind: expected the name of an enum value, got the number 1$/],
  ["a timestamp in RFC 3339", { at: "2026-01-02T15:04:05.5+01:00" }, undefined],
  [
    "a timestamp in prose",
    { at: "tomorrow at noon" },
    /^record\.at: expected an RFC 3339 timestamp such as "2026-01-02T15:04:05Z", got "tomorrow at noon"$/,
  ],
  ["a timestamp as epoch seconds", { at: 1767366245 }, /^record\.at: expected an RFC 3339 timestamp/],
  [
    "a nested timestamp",
    { tree: { children: [{ created: "yesterday" }] } },
    /^record\.tree\.children\[0\]\.created: expected an RFC 3339/,
  ],
  ["a duration in seconds", { wait: "0.250s" }, undefined],
  [
    "a duration in prose",
    { wait: "5 minutes" },
    /^record\.wait: expected a duration in seconds such as "5s" or "0\.250s", got "5 minutes"$/,
  ],
  ["an Int64Value as a string", { maybe: "12" }, undefined],
  ["a map value of the wrong form", { counts: { a: "1" } }, undefined],
  // Forms fromJson reads (BigInt() trims, takes 0x; base64 skips spaces; Date rolls over) but the schema does not.
  [
    "an int64 in hex",
    { i64: "0x10" },
    /^record\.i64: expected an integer from -9223372036854775808 to 9223372036854775807 \(a number or a decimal string\), got "0x10"$/,
  ],
  ["an int64 with a space", { i64: " 5" }, /^record\.i64: expected an integer/],
  ["a uint64 of minus zero", { u64: "-0" }, /^record\.u64: expected an integer from 0/],
  [
    "an integer map key in hex",
    { tagById: { "0x10": { key: "k" } } },
    /^record\.tagById: expected keys that are decimal integers from -2147483648 to 2147483647, got "0x10"$/,
  ],
  ["bytes with a space", { data: " AQID" }, /^record\.data: expected bytes in base64/],
  ["bytes with padding inside", { data: "AQ==AQ==" }, /^record\.data: expected bytes in base64/],
  ["February 30th", { at: "2026-02-30T00:00:00Z" }, /^record\.at: expected an RFC 3339 timestamp/],
  ["hour 24", { at: "2026-01-01T24:00:00Z" }, /^record\.at: expected an RFC 3339 timestamp/],
  // Refusals fromJson makes too, but without naming the place.
  [
    "an unknown enum name",
    { kind: "KIND_BLUE" },
    /^record\.kind: expected one of KIND_UNSPECIFIED, KIND_NOTE, KIND_TASK, got "KIND_BLUE"$/,
  ],
  ["a message that is not an object", { tree: 5 }, /^record\.tree: expected an object, got 5$/],
  [
    "an unknown key deep down",
    { tree: { children: [{ colour: 1 }] } },
    /^record\.tree\.children\[0\]\.colour: unknown field; Node has the fields label, children, created$/,
  ],
  ["a list that is not an array", { words: "a" }, /^record\.words: expected an array, got "a"$/],
  ["a null in a list", { words: ["a", null] }, /^record\.words\[1\]: null is not allowed here$/],
  [
    "two members of one oneof",
    { user: "u", teamId: "1" },
    /^record\.teamId: only one of user, teamId may be set, not both "user" and "teamId"$/,
  ],
];

describe("tool arguments held to their schema", () => {
  it.each(cases)("%s", (_what, record, problem) => {
    const args = { record };
    const got = checkArguments(echo, args);
    if (problem) {
      expect(got).toMatch(problem);
      // The schema refuses it too: the check only enforces what tools/list promised.
      expect(validate(args)).toBe(false);
    } else {
      expect(got).toBeUndefined();
      expect(validate(args), JSON.stringify(validate.errors)).toBe(true);
      expect(() => fromJson(echo, args, { registry })).not.toThrow();
    }
  });
});

const sink = registry.getMessage("mcpengine.testing.v1.KitchenSink");
if (!sink) throw new Error("no KitchenSink in the image");
const validateSink = createAjv().compile(messageToJsonSchema(sink, { mode: "input" }));
const deepTree = JSON.parse(`{"tree":${'{"children":['.repeat(5000)}{}${"]}".repeat(5000)}}`);

/** [what, arguments, the problem reported, whether the schema refuses them too (undefined: not asked)] */
const sinkCases: [string, { [k: string]: JsonValue }, RegExp, boolean | undefined][] = [
  [
    "a FieldMask with a space",
    { mask: "a b" },
    /^mask: expected comma-separated lowerCamelCase field paths/,
    true,
  ],
  ["a FieldMask in snake_case", { mask: "foo_bar" }, /^mask: expected comma-separated/, true],
  ["an Any without @type", { extra: {} }, /^extra: expected an object with "@type"/, true],
  [
    "a NullValue given by name",
    { nullValue: "NULL_VALUE" },
    /^nullValue: expected null, got "NULL_VALUE"$/,
    true,
  ],
  // Beyond what a JSON Schema can say, and refused by fromJson (or, for the Struct, mangled on the wire).
  [
    "a lone surrogate in a Struct",
    { attrs: { k: ["\ud800"] } },
    /^attrs\["k"\]\[0\]: not valid Unicode text/,
    false,
  ],
  [
    "an int64 past its range",
    { i64: "9223372036854775808" },
    /^i64: expected an integer from -9223372036854775808 to 9223372036854775807/,
    false,
  ],
  ["a float past its range", { flt: 1e39 }, /^flt: 1e\+39 is out of the range of a 32-bit float$/, false],
  [
    "a Timestamp before year 1",
    { when: "0001-01-01T00:30:00+01:00" },
    /^when: expected an RFC 3339 timestamp/,
    false,
  ],
  [
    "a Duration past its range",
    { howLong: "315576000001s" },
    /^howLong: expected a duration in seconds/,
    false,
  ],
  [
    "one field under both its names",
    { bigNumbers: ["1"], big_numbers: ["2"] },
    /^big_numbers: the same field as "bigNumbers"; give it once$/,
    false,
  ],
  [
    "a map with one integer key twice",
    { namesById: { "7": "a", "007": "b" } },
    /^namesById: the keys "7" and "007" are the same key$/,
    false,
  ],
  // Deeper than the stack allows a recursive walk (it threw RangeError, a JSON-RPC internal error).
  [
    "a tree nested 5,000 deep",
    deepTree,
    /^tree(\.children\[0\]){99}: nested more than 100 levels deep$/,
    undefined,
  ],
];

describe("tool arguments held to their schema, and named where they break", () => {
  it.each(sinkCases)("%s", (_what, args, problem, schemaRefuses) => {
    expect(checkArguments(sink, args)).toMatch(problem);
    if (schemaRefuses !== undefined) expect(validateSink(args)).toBe(!schemaRefuses);
  });
});
