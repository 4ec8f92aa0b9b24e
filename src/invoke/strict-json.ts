import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { DURATION_PATTERN, TIMESTAMP_PATTERN } from "../schema/index.js";

const TIMESTAMP = new RegExp(TIMESTAMP_PATTERN);
const DURATION = new RegExp(DURATION_PATTERN);
const NON_FINITE = new Set(["NaN", "Infinity", "-Infinity"]);
const INT32_WRAPPERS = new Set(["google.protobuf.Int32Value", "google.protobuf.UInt32Value"]);
const FLOAT_WRAPPERS = new Set(["google.protobuf.FloatValue", "google.protobuf.DoubleValue"]);

/**
 * Holds tool arguments to what their JSON Schema says, where ProtoJSON's
 * parser is more lenient than the schema (protobuf JSON mapping accepts
 * `"5"` for an int32, `"1.5"` for a double and enum numbers): such values are
 * refused, so a model learns the form the schema asks for. Timestamps and
 * Durations are checked against their patterns with an example of the
 * expected form. Returns the first problem, or `undefined`; everything else is
 * left to `fromJson` and protovalidate.
 */
export function checkArguments(desc: DescMessage, value: unknown): string | undefined {
  return checkMessage(desc, value, "");
}

function checkMessage(desc: DescMessage, value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const obj = value as { [k: string]: unknown };
  for (const field of desc.fields) {
    const v = field.jsonName in obj ? obj[field.jsonName] : obj[field.name];
    if (v === undefined || v === null) continue;
    const at = path ? `${path}.${field.jsonName}` : field.jsonName;
    const problem = checkField(field, v, at);
    if (problem) return problem;
  }
  return undefined;
}

function checkField(field: DescField, v: unknown, at: string): string | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, v, at);
    case "enum":
      return checkEnum(v, at);
    case "message":
      return checkValue(field.message, v, at);
    case "list": {
      if (!Array.isArray(v)) return undefined;
      const item = itemCheck(field.listKind, field);
      for (let i = 0; i < v.length; i++) {
        const problem = item(v[i], `${at}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    case "map": {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
      const item = itemCheck(field.mapKind, field);
      for (const [key, value] of Object.entries(v)) {
        const problem = item(value, `${at}["${key}"]`);
        if (problem) return problem;
      }
      return undefined;
    }
  }
}

/** The check of one element of a list or map field, by the element's kind. */
function itemCheck(
  kind: "scalar" | "enum" | "message",
  field: { readonly scalar?: ScalarType | undefined; readonly message?: DescMessage | undefined },
): (v: unknown, at: string) => string | undefined {
  switch (kind) {
    case "scalar":
      return (v, at) => checkScalar(field.scalar as ScalarType, v, at);
    case "enum":
      return checkEnum;
    case "message":
      return (v, at) => checkValue(field.message as DescMessage, v, at);
  }
}

/** A message value: the well-known types with a string form are checked against it. */
function checkValue(desc: DescMessage, v: unknown, at: string): string | undefined {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      if (typeof v !== "string" || !TIMESTAMP.test(v)) {
        return `${at}: expected an RFC 3339 timestamp such as "2026-01-02T15:04:05Z", got ${show(v)}`;
      }
      return undefined;
    case "google.protobuf.Duration":
      if (typeof v !== "string" || !DURATION.test(v)) {
        return `${at}: expected a duration in seconds such as "5s" or "0.250s", got ${show(v)}`;
      }
      return undefined;
  }
  if (INT32_WRAPPERS.has(desc.typeName)) return checkScalar(ScalarType.INT32, v, at);
  if (FLOAT_WRAPPERS.has(desc.typeName)) return checkScalar(ScalarType.DOUBLE, v, at);
  if (desc.typeName.startsWith("google.protobuf.")) return undefined;
  return checkMessage(desc, v, at);
}

function checkScalar(type: ScalarType, v: unknown, at: string): string | undefined {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return typeof v === "string" ? `${at}: expected an integer, got the string ${show(v)}` : undefined;
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return typeof v === "string" && !NON_FINITE.has(v)
        ? `${at}: expected a number (or "NaN", "Infinity", "-Infinity"), got the string ${show(v)}`
        : undefined;
    default:
      return undefined;
  }
}

function checkEnum(v: unknown, at: string): string | undefined {
  return typeof v === "number" ? `${at}: expected the name of an enum value, got the number ${v}` : undefined;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
