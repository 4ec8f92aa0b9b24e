import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  ScalarType,
} from "@bufbuild/protobuf";

/** A problem at one key path of the configuration document, e.g. `backends[0].tragets`. */
export interface Problem {
  readonly path: string;
  readonly detail: string;
}

/** The document as read so far, or the first problem in it. */
export type Read = { readonly value: JsonValue } | { readonly problem: Problem };

/** What one value of a field holds: a field's singular value, a list item or a map value. */
type Element =
  | { readonly kind: "scalar"; readonly scalar: ScalarType }
  | { readonly kind: "enum"; readonly enum: DescEnum }
  | { readonly kind: "message"; readonly message: DescMessage };

/**
 * Reads a parsed YAML/JSON document as the ProtoJSON form of `desc`, key by key, so that the first
 * unknown key or wrongly typed value is reported at its key path (`backends[0].tragets: unknown key`);
 * `fromJson` alone names only the message type. Leaf values are judged by `fromJson` itself, so
 * the ProtoJSON rules stay in protobuf-es. Enum values may also be given by short name (`grpc-web` for
 * `BACKEND_PROTOCOL_GRPC_WEB`); the returned document has the full names, ready for `fromJson`.
 */
export function readDocument(desc: DescMessage, doc: JsonValue): Read {
  return readMessage(desc, doc, "");
}

/** `parent.key`, or `parent["odd key"]` for keys that would not read as one path segment. */
export function keyPath(parent: string, key: string): string {
  if (!/^[A-Za-z_][\w-]*$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

/** `parent[index]`. */
export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** True for a YAML mapping / JSON object. */
export function isMapping(value: JsonValue): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readMessage(desc: DescMessage, value: JsonValue, path: string): Read {
  if (!isMapping(value)) return expected(path, "a mapping of settings", value);
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const at = keyPath(path, key);
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) return { problem: { path: at, detail: unknownKey(key, desc) } };
    // ProtoJSON reads null as "not set", for every kind of field.
    const read = v === null ? { value: null } : readField(field, v, at);
    if ("problem" in read) return read;
    out[key] = read.value;
  }
  return { value: out };
}

function readField(field: DescField, value: JsonValue, path: string): Read {
  // fromJson of the parent with just this field: the ProtoJSON verdict on one value.
  const accepts = (v: JsonValue) => {
    try {
      fromJson(field.parent, { [field.jsonName]: v });
      return true;
    } catch {
      return false;
    }
  };
  switch (field.fieldKind) {
    case "scalar":
      return readElement({ kind: "scalar", scalar: field.scalar }, value, path, accepts);
    case "enum":
      return readElement({ kind: "enum", enum: field.enum }, value, path, accepts);
    case "message":
      return readElement({ kind: "message", message: field.message }, value, path, accepts);
    case "list": {
      if (!Array.isArray(value)) return expected(path, "a list", value);
      const element: Element =
        field.listKind === "scalar"
          ? { kind: "scalar", scalar: field.scalar }
          : field.listKind === "enum"
            ? { kind: "enum", enum: field.enum }
            : { kind: "message", message: field.message };
      const out: JsonValue[] = [];
      for (const [i, item] of value.entries()) {
        const read = readElement(element, item, indexPath(path, i), (v) => accepts([v]));
        if ("problem" in read) return read;
        out.push(read.value);
      }
      return { value: out };
    }
    case "map": {
      if (!isMapping(value)) return expected(path, "a mapping", value);
      const element: Element =
        field.mapKind === "scalar"
          ? { kind: "scalar", scalar: field.scalar }
          : field.mapKind === "enum"
            ? { kind: "enum", enum: field.enum }
            : { kind: "message", message: field.message };
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(value)) {
        const read = readElement(element, item, keyPath(path, key), (v) => accepts({ [key]: v }));
        if ("problem" in read) return read;
        out[key] = read.value;
      }
      return { value: out };
    }
  }
}

function readElement(
  element: Element,
  value: JsonValue,
  path: string,
  accepts: (value: JsonValue) => boolean,
): Read {
  let v = value;
  if (element.kind === "message" && !isWellKnown(element.message)) {
    return readMessage(element.message, v, path);
  }
  if (element.kind === "enum") {
    if (typeof v === "string") v = shortEnumNames(element.enum).get(v) ?? v;
    // ProtoJSON takes any number for an open enum; a number the enum does not name is a mistake here.
    if (typeof v === "number" && !element.enum.values.some((e) => e.number === v)) {
      return expected(path, describe(element), value);
    }
  }
  return accepts(v) ? { value: v } : expected(path, describe(element), value);
}

/** `grpc-web` → `BACKEND_PROTOCOL_GRPC_WEB`: value names without the shared prefix, lower-case, with dashes. */
function shortEnumNames(desc: DescEnum): Map<string, string> {
  return new Map(
    desc.values
      .filter((v) => v.number !== 0)
      .map((v) => [v.localName.toLowerCase().replace(/_/g, "-"), v.name] as const),
  );
}

/** The google.protobuf types with a JSON form of their own (Duration as "1.5s", Struct as any object…). */
function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.");
}

function describe(element: Element): string {
  switch (element.kind) {
    case "enum":
      return `one of ${[...shortEnumNames(element.enum).keys()].join(", ")}`;
    case "message":
      return element.message.typeName === "google.protobuf.Duration"
        ? 'a duration such as "30s" or "1.5s"'
        : `a ${element.message.typeName} in ProtoJSON`;
    case "scalar":
      switch (element.scalar) {
        case ScalarType.STRING:
          return "a string";
        case ScalarType.BOOL:
          return "true or false";
        case ScalarType.BYTES:
          return "base64-encoded bytes";
        case ScalarType.DOUBLE:
        case ScalarType.FLOAT:
          return "a number";
        case ScalarType.UINT32:
        case ScalarType.FIXED32:
        case ScalarType.UINT64:
        case ScalarType.FIXED64:
          return "a non-negative integer";
        case ScalarType.INT32:
        case ScalarType.SINT32:
        case ScalarType.SFIXED32:
        case ScalarType.INT64:
        case ScalarType.SINT64:
        case ScalarType.SFIXED64:
          return "an integer";
      }
  }
}

function expected(path: string, what: string, got: JsonValue): Read {
  return { problem: { path, detail: `expected ${what}, got ${show(got)}` } };
}

/** A value as the message shows it: short, and never a whole mapping or list. */
function show(value: JsonValue): string {
  if (Array.isArray(value)) return "a list";
  if (isMapping(value)) return "a mapping";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  return String(value);
}

/** `unknown key`, with the nearest known key when one is a typo away, else the keys allowed here. */
function unknownKey(key: string, desc: DescMessage): string {
  const names = desc.fields.map((f) => f.name);
  let best: { name: string; distance: number } | undefined;
  for (const f of desc.fields) {
    const distance = Math.min(editDistance(key, f.name), editDistance(key, f.jsonName));
    if (!best || distance < best.distance) best = { name: f.name, distance };
  }
  if (best && best.distance <= 2 && best.distance < key.length / 2) {
    return `unknown key (did you mean "${best.name}"?)`;
  }
  return `unknown key (known here: ${names.join(", ")})`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      const row = d[i];
      if (row) row[j] = best;
    }
  }
  return at(a.length, b.length);
}
