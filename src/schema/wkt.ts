import { ScalarType } from "@bufbuild/protobuf";
import { nullable, scalarSchema } from "./scalar.js";
import type { JsonSchema, SchemaMode } from "./types.js";

/** The scalar each wrapper well-known type holds (`google/protobuf/wrappers.proto`). */
export const WRAPPERS: { readonly [typeName: string]: ScalarType } = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

/** RFC 3339 duration in seconds with up to 9 fractional digits, e.g. "1.5s" (not ISO 8601 `format: duration`). */
export const DURATION_PATTERN = "^-?[0-9]+(\\.[0-9]{1,9})?s$";

/**
 * RFC 3339 date-time as ProtoJSON reads Timestamps: `Z` or an offset, up to 9
 * fraction digits. Given as well as `format: date-time`, which many validators ignore.
 */
export const TIMESTAMP_PATTERN =
  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$";

/** Comma-separated lowerCamelCase field paths (no underscores: ProtoJSON refuses them). */
export const FIELD_MASK_PATTERN =
  "^([A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*(,[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*)*)?$";

/**
 * The special JSON forms of the well-known types
 * (https://protobuf.dev/programming-guides/json/, "JSON Mapping" table), or
 * `undefined` for an ordinary message.
 */
export function wellKnownSchema(typeName: string, mode: SchemaMode): JsonSchema | undefined {
  const wrapped = WRAPPERS[typeName];
  if (wrapped !== undefined) return nullable(scalarSchema(wrapped, mode));
  switch (typeName) {
    case "google.protobuf.Timestamp":
      return {
        type: "string",
        format: "date-time",
        pattern: TIMESTAMP_PATTERN,
        description: "RFC 3339 timestamp, e.g. 1972-01-01T10:00:20.021Z",
      };
    case "google.protobuf.Duration":
      return { type: "string", pattern: DURATION_PATTERN, description: 'Duration in seconds, e.g. "1.5s"' };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array" };
    case "google.protobuf.FieldMask":
      return { type: "string", pattern: FIELD_MASK_PATTERN, description: "Comma-separated field paths" };
    case "google.protobuf.Any":
      return {
        type: "object",
        properties: {
          "@type": { type: "string", description: "Type URL, e.g. type.googleapis.com/pkg.Message" },
        },
        // An empty Any is written as {} (toJson), so only arguments must name their type.
        ...(mode === "input" ? { required: ["@type"] } : {}),
      };
    case "google.protobuf.Empty":
      return mode === "input" ? { type: "object", additionalProperties: false } : { type: "object" };
    default:
      return undefined;
  }
}
