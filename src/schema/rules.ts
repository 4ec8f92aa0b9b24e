import {
  type DescField,
  type DescMessage,
  getOption,
  hasOption,
  isFieldSet,
  type Message,
} from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type FieldRules,
  field as fieldRules,
  file_buf_validate_validate,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { JsonSchema } from "./types.js";

/** `google.api.field_behavior`: extension 1052 of FieldOptions (google/api/field_behavior.proto). */
const FIELD_BEHAVIOR = 1052;

/** Values of `google.api.FieldBehavior` the schemas act on. */
export enum FieldBehavior {
  Required = 2,
  OutputOnly = 3,
  InputOnly = 4,
}

/**
 * Reads `google.api.field_behavior` from the field's options. The extension is
 * read from the options' unknown fields (packed or not), so no generated code
 * for googleapis is needed.
 */
export function fieldBehaviors(field: DescField): ReadonlySet<number> {
  const out = new Set<number>();
  for (const u of field.proto.options?.$unknown ?? []) {
    if (u.no !== FIELD_BEHAVIOR) continue;
    // Unknown-field data holds the value without its tag (a length prefix for packed values).
    const r = new BinaryReader(u.data);
    if (u.wireType === WireType.LengthDelimited) {
      const end = r.uint32() + r.pos;
      while (r.pos < end) out.add(r.int32());
    } else if (u.wireType === WireType.Varint) {
      out.add(r.int32());
    }
  }
  return out;
}

/** The field's protovalidate rules, if it declares any. */
export function validateRules(field: DescField): FieldRules | undefined {
  return hasOption(field, fieldRules) ? getOption(field, fieldRules) : undefined;
}

/** Reads a proto2 field only when present. */
function present<M extends Message, K extends string & keyof M>(
  schema: DescMessage,
  msg: M,
  key: K,
): M[K] | undefined {
  const f = schema.fields.find((x) => x.localName === key);
  return f && isFieldSet(msg, f) ? msg[key] : undefined;
}

/**
 * Folds protovalidate rules that have a JSON Schema equivalent into a field's
 * schema: string lengths, patterns, `in` and `const`; numeric bounds and `in`;
 * repeated item counts (applied by the caller on arrays); enum `in`.
 * CEL expressions and formats without an equivalent are left to the validator.
 */
export function applyScalarRules(
  schema: JsonSchema,
  rules: FieldRules,
  enumNames?: Map<number, string>,
): JsonSchema {
  const t = rules.type;
  const out: JsonSchema = { ...schema };
  switch (t.case) {
    case "string": {
      const s = t.value;
      const sd = s.$typeName ? descOf(s) : undefined;
      if (!sd) break;
      const minLen = present(sd, s, "minLen");
      const maxLen = present(sd, s, "maxLen");
      const len = present(sd, s, "len");
      if (len !== undefined) {
        out.minLength = Number(len);
        out.maxLength = Number(len);
      }
      if (minLen !== undefined) out.minLength = Number(minLen);
      if (maxLen !== undefined) out.maxLength = Number(maxLen);
      const pattern = present(sd, s, "pattern");
      if (pattern !== undefined) out.pattern = pattern;
      if (s.in.length > 0) out.enum = [...s.in];
      const c = present(sd, s, "const");
      if (c !== undefined) out.const = c;
      if (s.wellKnown.case === "email") out.format = "email";
      if (s.wellKnown.case === "uuid") out.format = "uuid";
      if (s.wellKnown.case === "uri") out.format = "uri";
      break;
    }
    case "int32":
    case "uint32":
    case "sint32":
    case "fixed32":
    case "sfixed32":
    case "float":
    case "double":
    case "int64":
    case "uint64":
    case "sint64":
    case "fixed64":
    case "sfixed64": {
      const n = t.value;
      const lt = n.lessThan;
      const gt = n.greaterThan;
      if (lt.case === "lt") out.exclusiveMaximum = Number(lt.value);
      if (lt.case === "lte") out.maximum = Number(lt.value);
      if (gt.case === "gt") out.exclusiveMinimum = Number(gt.value);
      if (gt.case === "gte") out.minimum = Number(gt.value);
      if (n.in.length > 0) out.enum = n.in.map((v) => (typeof v === "bigint" ? v.toString() : v));
      break;
    }
    case "enum": {
      const e = t.value;
      if (e.in.length > 0 && enumNames) {
        out.enum = e.in.map((n) => enumNames.get(n)).filter((n): n is string => n !== undefined);
      }
      break;
    }
    default:
      break;
  }
  return out;
}

/** Applies `repeated.min_items` / `max_items` to an array schema. */
export function applyRepeatedRules(schema: JsonSchema, rules: FieldRules): JsonSchema {
  if (rules.type.case !== "repeated") return schema;
  const r = rules.type.value;
  const sd = descOf(r);
  const out: JsonSchema = { ...schema };
  const min = sd ? present(sd, r, "minItems") : undefined;
  const max = sd ? present(sd, r, "maxItems") : undefined;
  if (min !== undefined) out.minItems = Number(min);
  if (max !== undefined) out.maxItems = Number(max);
  if (sd && present(sd, r, "unique")) out.uniqueItems = true;
  return out;
}

/** The rules applied to each element of a repeated field. */
export function itemRules(rules: FieldRules): FieldRules | undefined {
  return rules.type.case === "repeated" ? rules.type.value.items : undefined;
}

function descOf(msg: Message): DescMessage | undefined {
  return file_buf_validate_validate.messages.find((m) => m.typeName === msg.$typeName);
}
