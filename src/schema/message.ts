import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import { leadingComment } from "../catalog/comments.js";
import {
  applyRepeatedRules,
  applyScalarRules,
  FieldBehavior,
  fieldBehaviors,
  itemRules,
  validateRules,
} from "./rules.js";
import { mapKeySchema, scalarSchema } from "./scalar.js";
import type { JsonSchema, SchemaMode } from "./types.js";
import { wellKnownSchema } from "./wkt.js";

/** Builds one schema document: recursive messages are shared through `$defs`. */
class SchemaBuilder {
  private readonly defs = new Map<string, JsonSchema>();
  private readonly recursive = new Map<string, boolean>();

  constructor(private readonly mode: SchemaMode) {}

  /** The root document: the message's object schema plus the `$defs` it references. */
  root(desc: DescMessage): JsonSchema {
    const body = this.objectSchema(desc);
    if (this.isRecursive(desc)) this.define(desc);
    if (this.defs.size === 0) return body;
    const sorted = [...this.defs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { ...body, $defs: Object.fromEntries(sorted) };
  }

  /** The schema of a message-typed value: a well-known form, a `$ref`, or inline. */
  private messageValue(desc: DescMessage): JsonSchema {
    const wkt = wellKnownSchema(desc.typeName, this.mode);
    if (wkt) return wkt;
    if (this.isRecursive(desc)) {
      this.define(desc);
      return { $ref: `#/$defs/${desc.typeName}` };
    }
    return this.objectSchema(desc);
  }

  private define(desc: DescMessage): void {
    if (this.defs.has(desc.typeName)) return;
    // Reserve the slot first so a cycle ends at the $ref instead of recursing.
    this.defs.set(desc.typeName, {});
    this.defs.set(desc.typeName, this.objectSchema(desc));
  }

  /** An ordinary message: one property per field under its JSON name. */
  private objectSchema(desc: DescMessage): JsonSchema {
    const properties: { [k: string]: JsonSchema } = {};
    const aliases: { [k: string]: JsonSchema } = {};
    const required: string[] = [];
    const exclusive: string[][] = [];
    for (const field of desc.fields) {
      const behaviors = fieldBehaviors(field);
      if (this.mode === "input" && behaviors.has(FieldBehavior.OutputOnly)) continue;
      if (this.mode === "output" && behaviors.has(FieldBehavior.InputOnly)) continue;
      const schema = this.fieldSchema(field);
      properties[field.jsonName] = schema;
      // Replies always carry their lists and maps, empty or not (invoke/reply-json.ts).
      if (this.mode === "output" && (field.fieldKind === "list" || field.fieldKind === "map")) {
        required.push(field.jsonName);
      }
      if (this.mode === "input") {
        // ProtoJSON parsers accept the proto field name too (RFC: "JSON Options").
        if (field.name !== field.jsonName) aliases[`^${field.name}$`] = schema;
        if (behaviors.has(FieldBehavior.Required) || validateRules(field)?.required)
          required.push(field.jsonName);
      }
    }
    if (this.mode === "input") {
      for (const oneof of desc.oneofs) {
        const keys = oneof.fields.filter((f) => f.jsonName in properties).map((f) => f.jsonName);
        for (let i = 0; i < keys.length; i++) {
          for (let j = i + 1; j < keys.length; j++) exclusive.push([keys[i] ?? "", keys[j] ?? ""]);
        }
      }
    }
    const out: JsonSchema = { type: "object" };
    const description = leadingComment(desc);
    if (description) out.description = description;
    out.properties = properties;
    if (required.length > 0) out.required = required;
    if (this.mode === "input") {
      if (Object.keys(aliases).length > 0) out.patternProperties = aliases;
      out.additionalProperties = false;
      // A oneof holds at most one member: no two of its keys together.
      if (exclusive.length > 0) out.not = { anyOf: exclusive.map((pair) => ({ required: pair })) };
    }
    return out;
  }

  private fieldSchema(field: DescField): JsonSchema {
    const rules = validateRules(field);
    let schema: JsonSchema;
    switch (field.fieldKind) {
      case "scalar":
        schema = scalarSchema(field.scalar, this.mode);
        if (rules) schema = applyScalarRules(schema, rules);
        break;
      case "enum":
        schema = this.enumSchema(field.enum);
        if (rules) schema = applyScalarRules(schema, rules, enumNames(field.enum));
        break;
      case "message":
        schema = this.messageValue(field.message);
        break;
      case "list": {
        let items: JsonSchema;
        const ir = rules ? itemRules(rules) : undefined;
        switch (field.listKind) {
          case "scalar":
            items = scalarSchema(field.scalar, this.mode);
            if (ir) items = applyScalarRules(items, ir);
            break;
          case "enum":
            items = this.enumSchema(field.enum);
            if (ir) items = applyScalarRules(items, ir, enumNames(field.enum));
            break;
          case "message":
            items = this.messageValue(field.message);
            break;
        }
        schema = { type: "array", items };
        if (rules) schema = applyRepeatedRules(schema, rules);
        break;
      }
      case "map": {
        let values: JsonSchema;
        switch (field.mapKind) {
          case "scalar":
            values = scalarSchema(field.scalar, this.mode);
            break;
          case "enum":
            values = this.enumSchema(field.enum);
            break;
          case "message":
            values = this.messageValue(field.message);
            break;
        }
        schema = { type: "object", additionalProperties: values };
        const keys = mapKeySchema(field.mapKey);
        if (keys) schema.propertyNames = keys;
        break;
      }
    }
    const description = leadingComment(field);
    return description ? withDescription(schema, description) : schema;
  }

  /** Enums are their value names; `google.protobuf.NullValue` is JSON null. */
  private enumSchema(desc: DescEnum): JsonSchema {
    if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
    return { type: "string", enum: desc.values.map((v) => v.name) };
  }

  /** Whether a message can reach itself through its fields (so it must live in `$defs`). */
  private isRecursive(desc: DescMessage): boolean {
    const known = this.recursive.get(desc.typeName);
    if (known !== undefined) return known;
    const seen = new Set<string>();
    const stack = [...children(desc)];
    let found = false;
    while (stack.length > 0) {
      const m = stack.pop();
      if (!m) break;
      if (m.typeName === desc.typeName) {
        found = true;
        break;
      }
      if (seen.has(m.typeName)) continue;
      seen.add(m.typeName);
      stack.push(...children(m));
    }
    this.recursive.set(desc.typeName, found);
    return found;
  }
}

function children(desc: DescMessage): DescMessage[] {
  const out: DescMessage[] = [];
  for (const f of desc.fields) {
    if (f.fieldKind === "message") out.push(f.message);
    else if (f.fieldKind === "list" && f.listKind === "message") out.push(f.message);
    else if (f.fieldKind === "map" && f.mapKind === "message") out.push(f.message);
  }
  return out;
}

function enumNames(desc: DescEnum): Map<number, string> {
  return new Map(desc.values.map((v) => [v.number, v.name]));
}

function withDescription(schema: JsonSchema, description: string): JsonSchema {
  // A $ref with siblings is fine in 2020-12; keep the reference intact.
  return { ...schema, description };
}

/**
 * The JSON Schema (draft 2020-12) of a message under the ProtoJSON mapping the
 * gateway uses on the wire (https://protobuf.dev/programming-guides/json/):
 * `input` describes what `fromJson` accepts for tool arguments, `output` what
 * `toJson` emits in `structuredContent`. Recursive messages are shared through
 * `$defs` and `$ref`, so the document is finite and every reference resolves.
 */
export function messageToJsonSchema(desc: DescMessage, options: { mode: SchemaMode }): JsonSchema {
  return new SchemaBuilder(options.mode).root(desc);
}
