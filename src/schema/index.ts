export { messageToJsonSchema } from "./message.js";
export type { JsonSchema, SchemaMode, SchemaOptions } from "./types.js";
