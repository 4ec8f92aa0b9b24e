export { messageToJsonSchema } from "./message.js";
export { BASE64_PATTERN, INT64_PATTERN, UINT64_PATTERN } from "./scalar.js";
export type { JsonSchema, SchemaMode, SchemaOptions } from "./types.js";
export { DURATION_PATTERN, FIELD_MASK_PATTERN, TIMESTAMP_PATTERN, WRAPPERS } from "./wkt.js";
