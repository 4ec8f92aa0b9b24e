/** A JSON Schema (draft 2020-12) object. */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * Which side of the ProtoJSON mapping a schema describes: `input` is what
 * `fromJson` accepts (tool arguments), `output` what `toJson` emits (results).
 */
export type SchemaMode = "input" | "output";

/** Options of {@link messageToJsonSchema}. */
export interface SchemaOptions {
  readonly mode: SchemaMode;
}
