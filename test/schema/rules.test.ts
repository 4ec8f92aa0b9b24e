import {
  create,
  createFileRegistry,
  type DescMessage,
  fromJson,
  type JsonValue,
  setExtension,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import {
  FieldRulesSchema,
  field as fieldRulesExt,
  file_buf_validate_validate,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { describe, expect, it } from "vitest";
import { messageToJsonSchema } from "../../src/schema/index.js";
import { createAjv } from "../support/ajv.js";

const T = FieldDescriptorProto_Type;
type Rules = Parameters<typeof create<typeof FieldRulesSchema>>[1];

/** A field with optional protovalidate rules and google.api.field_behavior values. */
function field(
  name: string,
  number: number,
  type: FieldDescriptorProto_Type,
  opts: { rules?: Rules; behavior?: number[]; repeated?: boolean; typeName?: string; packed?: boolean } = {},
): FieldDescriptorProto {
  const options = create(FieldOptionsSchema);
  if (opts.rules) setExtension(options, fieldRulesExt, create(FieldRulesSchema, opts.rules));
  if (opts.behavior) {
    if (opts.packed) {
      const w = new BinaryWriter().fork();
      for (const b of opts.behavior) w.int32(b);
      options.$unknown = [{ no: 1052, wireType: WireType.LengthDelimited, data: w.join().finish() }];
    } else {
      options.$unknown = opts.behavior.map((b) => ({
        no: 1052,
        wireType: WireType.Varint,
        data: new BinaryWriter().int32(b).finish(),
      }));
    }
  }
  return create(FieldDescriptorProtoSchema, {
    name,
    number,
    type,
    label: opts.repeated ? FieldDescriptorProto_Label.REPEATED : FieldDescriptorProto_Label.OPTIONAL,
    jsonName: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
    ...(opts.typeName ? { typeName: opts.typeName } : {}),
    options,
  });
}

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "rules_test.proto",
    package: "rules.test",
    syntax: "proto3",
    dependency: ["buf/validate/validate.proto"],
    enumType: [
      {
        name: "Size",
        value: [
          { name: "SIZE_UNSPECIFIED", number: 0 },
          { name: "SIZE_S", number: 1 },
          { name: "SIZE_M", number: 2 },
          { name: "SIZE_L", number: 3 },
        ],
      },
    ],
    messageType: [
      {
        name: "Request",
        field: [
          field("name", 1, T.STRING, {
            rules: {
              required: true,
              type: { case: "string", value: { minLen: 2n, maxLen: 5n, pattern: "^[a-z]+$" } },
            },
          }),
          field("mode", 2, T.STRING, {
            rules: { type: { case: "string", value: { in: ["fast", "slow"] } } },
          }),
          field("count", 3, T.INT32, {
            rules: {
              type: {
                case: "int32",
                value: { greaterThan: { case: "gt", value: 0 }, lessThan: { case: "lte", value: 10 } },
              },
            },
          }),
          field("ratio", 4, T.DOUBLE, {
            rules: {
              type: {
                case: "double",
                value: { greaterThan: { case: "gte", value: 0 }, lessThan: { case: "lt", value: 1 } },
              },
            },
          }),
          field("tags", 5, T.STRING, {
            repeated: true,
            rules: {
              type: {
                case: "repeated",
                value: {
                  minItems: 1n,
                  maxItems: 3n,
                  items: { type: { case: "string", value: { minLen: 1n } } },
                },
              },
            },
          }),
          field("size", 6, T.ENUM, {
            typeName: ".rules.test.Size",
            rules: { type: { case: "enum", value: { in: [1, 2] } } },
          }),
          field("id", 7, T.STRING, { behavior: [3] }),
          field("title", 8, T.STRING, { behavior: [2] }),
          field("secret", 9, T.STRING, { behavior: [4, 5], packed: true }),
          field("code", 10, T.STRING, { rules: { type: { case: "string", value: { const: "X1" } } } }),
        ],
      },
    ],
  }),
  (name) => (name === "buf/validate/validate.proto" ? file_buf_validate_validate : undefined),
);

const request = registry.getMessage("rules.test.Request") as DescMessage;
const input = messageToJsonSchema(request, { mode: "input" });
const output = messageToJsonSchema(request, { mode: "output" });
const props = input.properties as Record<string, Record<string, unknown>>;
const validateInput = createAjv().compile(input);
const validator = createValidator({ registry });

describe("google.api.field_behavior", () => {
  it("lists REQUIRED fields (and buf.validate required) as required", () => {
    expect(input.required).toEqual(["name", "title"]);
  });
  it("drops OUTPUT_ONLY fields from input schemas and keeps them in output schemas", () => {
    expect(props).not.toHaveProperty("id");
    expect(output.properties).toHaveProperty("id");
  });
  it("drops INPUT_ONLY fields from output schemas, packed or not", () => {
    expect(props).toHaveProperty("secret");
    expect(output.properties).not.toHaveProperty("secret");
  });
  it("lists as required in output schemas only the lists and maps every reply carries", () => {
    expect(output.required).toEqual(["tags"]);
  });
});

describe("buf.validate rules", () => {
  it.each([
    ["name", { type: "string", minLength: 2, maxLength: 5, pattern: "^[a-z]+$" }],
    ["mode", { type: "string", enum: ["fast", "slow"] }],
    ["count", { type: "integer", exclusiveMinimum: 0, maximum: 10 }],
    ["ratio", { minimum: 0, exclusiveMaximum: 1 }],
    ["tags", { type: "array", minItems: 1, maxItems: 3, items: { type: "string", minLength: 1 } }],
    ["size", { type: "string", enum: ["SIZE_S", "SIZE_M"] }],
    ["code", { const: "X1" }],
  ])("maps the rules of %s", (name, expected) => {
    expect(props[name]).toMatchObject(expected);
  });

  /** A request every rule accepts; each case changes one thing. */
  const base = {
    name: "abc",
    title: "t",
    mode: "fast",
    count: 10,
    ratio: 0,
    tags: ["x"],
    size: "SIZE_M",
    code: "X1",
  };
  /** [what, change to the base, valid] — the schema and protovalidate must agree. */
  const cases: [string, { [k: string]: JsonValue }, boolean][] = [
    ["a valid request", {}, true],
    ["a name too short", { name: "a" }, false],
    ["a name too long", { name: "abcdef" }, false],
    ["a name against the pattern", { name: "ab1" }, false],
    ["a mode outside `in`", { mode: "medium" }, false],
    ["a count at the exclusive bound", { count: 0 }, false],
    ["a count over the max", { count: 11 }, false],
    ["a ratio at the exclusive max", { ratio: 1 }, false],
    ["too many tags", { tags: ["a", "b", "c", "d"] }, false],
    ["an empty tag", { tags: [""] }, false],
    ["a size outside `in`", { size: "SIZE_L" }, false],
    ["a code other than the const", { code: "X2" }, false],
  ];
  it.each(cases)("%s: schema and protovalidate agree", (_what, change, valid) => {
    const args = { ...base, ...change };
    expect(validateInput(args), JSON.stringify(validateInput.errors)).toBe(valid);
    // `title` is only required by field_behavior, which protovalidate does not check.
    const msg = fromJson(request, args, { registry });
    const result = validator.validate(request, msg);
    expect(result.kind, result.kind === "invalid" ? result.error.message : "").toBe(
      valid ? "valid" : "invalid",
    );
  });
});
