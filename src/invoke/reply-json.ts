import {
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";

/**
 * A backend reply as the ProtoJSON a tool result carries (`structuredContent`),
 * with every list and map field present: ProtoJSON leaves empty ones out, so
 * an empty listing would answer `{}` where its output schema — which marks
 * list and map fields required — promises `{"channels": []}`. Scalars keep
 * ProtoJSON's default (zero values left out). Well-known types keep their own
 * JSON forms.
 */
export function replyJson(desc: DescMessage, msg: MessageShape<DescMessage>, registry: Registry): JsonObject {
  const json = toJson(desc, msg, { registry }) as JsonObject;
  fillCollections(desc, json);
  return json;
}

function fillCollections(desc: DescMessage, json: JsonObject): void {
  if (desc.typeName.startsWith("google.protobuf.")) return;
  for (const field of desc.fields) {
    const value = json[field.jsonName];
    switch (field.fieldKind) {
      case "list":
        if (value === undefined) json[field.jsonName] = [];
        else if (field.listKind === "message") eachObject(value, (v) => fillCollections(field.message, v));
        break;
      case "map":
        if (value === undefined) json[field.jsonName] = {};
        else if (field.mapKind === "message" && isObject(value)) {
          for (const v of Object.values(value)) if (isObject(v)) fillCollections(field.message, v);
        }
        break;
      case "message":
        if (isObject(value)) fillCollections(field.message, value);
        break;
      default:
        break;
    }
  }
}

function eachObject(value: JsonValue, visit: (v: JsonObject) => void): void {
  if (!Array.isArray(value)) return;
  for (const v of value) if (isObject(v)) visit(v);
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
