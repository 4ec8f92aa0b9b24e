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
