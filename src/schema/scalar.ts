import { ScalarType } from "@bufbuild/protobuf";
import type { JsonSchema, SchemaMode } from "./types.js";

/** Decimal patterns for 64-bit integers, which ProtoJSON writes as strings. */
export const INT64_PATTERN = "^-?[0-9]+$";
export const UINT64_PATTERN = "^[0-9]+$";
/** ProtoJSON's string forms of non-finite floats. */
const NON_FINITE_PATTERN = "^(NaN|-?Infinity)$";
/**
 * Standard or URL-safe base64, padded or not (ProtoJSON accepts both on input):
 * whole groups of four, then 2 or 3 characters with their padding or without.
 */
export const BASE64_PATTERN = "^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$";

/**
 * The schema of a scalar field value under the ProtoJSON mapping
 * (https://protobuf.dev/programming-guides/json/): 32-bit integers are JSON
 * numbers within their range; 64-bit integers are decimal strings (numbers
 * are also accepted on input); floats are numbers or "NaN"/"Infinity"/
 * "-Infinity"; bytes are base64 strings.
 */
export function scalarSchema(type: ScalarType, mode: SchemaMode): JsonSchema {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", minimum: -2147483648, maximum: 2147483647 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return mode === "input"
        ? { type: ["string", "integer"], pattern: INT64_PATTERN }
        : { type: "string", pattern: INT64_PATTERN };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return mode === "input"
        ? { type: ["string", "integer"], pattern: UINT64_PATTERN, minimum: 0 }
        : { type: "string", pattern: UINT64_PATTERN };
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return { type: ["number", "string"], pattern: NON_FINITE_PATTERN };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64", pattern: BASE64_PATTERN };
  }
}

/**
 * Map keys are always JSON object keys (strings); integer and bool keys are
 * their decimal / `true`/`false` spellings.
 */
export function mapKeySchema(type: ScalarType): JsonSchema | undefined {
  switch (type) {
    case ScalarType.STRING:
      return undefined;
    case ScalarType.BOOL:
      return { enum: ["true", "false"] };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { pattern: UINT64_PATTERN };
    default:
      return { pattern: INT64_PATTERN };
  }
}

/** Adds `null` to a schema's type list: wrapper types and `google.protobuf.Value` accept JSON null. */
export function nullable(schema: JsonSchema): JsonSchema {
  const t = schema.type;
  if (typeof t === "string") return { ...schema, type: [t, "null"] };
  if (Array.isArray(t)) return { ...schema, type: [...t, "null"] };
  return { anyOf: [schema, { type: "null" }] };
}
