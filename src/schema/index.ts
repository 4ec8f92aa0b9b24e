export { messageToJsonSchema } from "./message.js";
export type { JsonSchema, SchemaMode, SchemaOptions } from "./types.js";
export { DURATION_PATTERN, TIMESTAMP_PATTERN } from "./wkt.js";
