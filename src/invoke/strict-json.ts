import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import {
  BASE64_PATTERN,
  DURATION_PATTERN,
  FIELD_MASK_PATTERN,
  INT64_PATTERN,
  TIMESTAMP_PATTERN,
  UINT64_PATTERN,
  WRAPPERS,
} from "../schema/index.js";

const TIMESTAMP = new RegExp(TIMESTAMP_PATTERN);
const TIMESTAMP_PARTS = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:Z|[+-](\d\d):(\d\d))$/;
const DURATION = new RegExp(DURATION_PATTERN);
const FIELD_MASK = new RegExp(FIELD_MASK_PATTERN);
const BASE64 = new RegExp(BASE64_PATTERN);
const INT64 = new RegExp(INT64_PATTERN);
const UINT64 = new RegExp(UINT64_PATTERN);
/** A UTF-16 surrogate without its pair: not Unicode text, so not a protobuf string. */
const LONE_SURROGATE = /\p{Cs}/u;
const NON_FINITE = new Set(["NaN", "Infinity", "-Infinity"]);
/** A key written as it is in a path (`a.b`); any other is quoted (`a["x y"]`). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Inclusive bounds of the integer types, as bigints. */
const RANGES: { readonly [type: number]: readonly [bigint, bigint] } = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n],
};
/** ProtoJSON's Timestamp range, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, in ms. */
const TIMESTAMP_MIN_MS = Date.parse("0001-01-01T00:00:00Z");
const TIMESTAMP_MAX_MS = Date.parse("9999-12-31T23:59:59Z");
/** ProtoJSON's Duration range in seconds (±10,000 years). */
const DURATION_MAX_SECONDS = 315_576_000_000;
/**
 * Deepest nesting of messages and JSON values, counted as `fromJson` counts it
 * against its default `recursionLimit` (100): each message and each
 * `google.protobuf.Value` one level. Checked first, so nothing recurses further.
 */
const MAX_DEPTH = 100;
/** Field names listed in an "unknown field" problem. */
const MAX_LISTED = 12;

type Problem = string | undefined;

/**
 * Holds tool arguments to what their JSON Schema says, and names the place of
 * the first problem (`record.tags[2]: expected ...`). ProtoJSON's parser is
 * more lenient than the schema (`"5"` for an int32, `"0x10"` or `" 5"` for an
 * int64, enum numbers, base64 with spaces, any text for a FieldMask, an Any
 * without `@type`, February 30th rolled over into March): such values are
 * refused, so a model learns the form the schema asks for and a backend never
 * gets a value the schema did not describe. Every value this accepts decodes
 * with `fromJson`, whose own errors name no path, except the contents of an
 * `Any` (which need the registry). The one leniency kept from ProtoJSON: a
 * `null` member means "not set". Nesting is bounded before anything recurses, so
 * arguments of any depth get an answer. Returns the first problem, or
 * `undefined`; protovalidate rules are checked after decoding.
 */
export function checkArguments(desc: DescMessage, value: unknown): string | undefined {
  return checkMessage(desc, value, "", 1);
}

function checkMessage(desc: DescMessage, value: unknown, path: string, depth: number): Problem {
  const here = path || "arguments";
  if (depth > MAX_DEPTH) return tooDeep(here);
  if (!isObject(value)) return `${here}: expected an object, got ${show(value)}`;
  const seen = new Map<DescField, string>();
  const oneofs = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    const field = fieldByKey(desc).get(key);
    const at = IDENTIFIER.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${show(key)}]`;
    if (!field) return `${at}: unknown field; ${desc.name} has ${listNames(desc)}`;
    const other = seen.get(field);
    if (other !== undefined) return `${at}: the same field as "${other}"; give it once`;
    seen.set(field, key);
    if (field.oneof) {
      const set = oneofs.get(field.oneof.name);
      if (set !== undefined)
        return `${at}: only one of ${oneofNames(field)} may be set, not both "${set}" and "${key}"`;
      oneofs.set(field.oneof.name, key);
    }
    if (v === null) continue; // ProtoJSON: null is the field's default
    const problem = checkField(field, v, at, depth);
    if (problem) return problem;
  }
  return undefined;
}

function checkField(field: DescField, v: unknown, at: string, depth: number): Problem {
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, v, at);
    case "enum":
      return checkEnum(field.enum, v, at);
    case "message":
      return checkValue(field.message, v, at, depth + 1);
    case "list": {
      if (!Array.isArray(v)) return `${at}: expected an array, got ${show(v)}`;
      const item = itemCheck(field.listKind, field, depth);
      for (let i = 0; i < v.length; i++) {
        const problem = item(v[i], `${at}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    case "map": {
      if (!isObject(v)) return `${at}: expected an object, got ${show(v)}`;
      const item = itemCheck(field.mapKind, field, depth);
      const keys = new Map<string, string>();
      for (const [key, value] of Object.entries(v)) {
        const problem = checkMapKey(field.mapKey, key, at);
        if (problem) return problem;
        // "7" and "007" are one integer key.
        const canonical =
          field.mapKey === ScalarType.STRING || field.mapKey === ScalarType.BOOL ? key : `${BigInt(key)}`;
        const other = keys.get(canonical);
        if (other !== undefined) return `${at}: the keys ${show(other)} and ${show(key)} are the same key`;
        keys.set(canonical, key);
        const valueProblem = item(value, `${at}[${show(key)}]`);
        if (valueProblem) return valueProblem;
      }
      return undefined;
    }
  }
}

/** The check of one element of a list or map field, by the element's kind; null only where protobuf has it. */
function itemCheck(
  kind: "scalar" | "enum" | "message",
  field: {
    readonly scalar?: ScalarType | undefined;
    readonly enum?: DescEnum | undefined;
    readonly message?: DescMessage | undefined;
  },
  depth: number,
): (v: unknown, at: string) => Problem {
  switch (kind) {
    case "scalar":
      return (v, at) => (v === null ? noNull(at) : checkScalar(field.scalar as ScalarType, v, at));
    case "enum": {
      const desc = field.enum as DescEnum;
      return (v, at) => (v === null && desc.typeName !== NULL_VALUE ? noNull(at) : checkEnum(desc, v, at));
    }
    case "message": {
      const desc = field.message as DescMessage;
      return (v, at) =>
        v === null && desc.typeName !== VALUE ? noNull(at) : checkValue(desc, v, at, depth + 1);
    }
  }
}

const NULL_VALUE = "google.protobuf.NullValue";
const VALUE = "google.protobuf.Value";

/** A message-typed value: well-known types in their own JSON forms, other messages as objects. */
function checkValue(desc: DescMessage, v: unknown, at: string, depth: number): Problem {
  if (depth > MAX_DEPTH) return tooDeep(at);
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped !== undefined) return v === null ? undefined : checkScalar(wrapped, v, at);
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      if (typeof v !== "string" || !isTimestamp(v)) {
        return `${at}: expected an RFC 3339 timestamp such as "2026-01-02T15:04:05Z", got ${show(v)}`;
      }
      return undefined;
    case "google.protobuf.Duration":
      if (typeof v !== "string" || !isDuration(v)) {
        return `${at}: expected a duration in seconds such as "5s" or "0.250s", got ${show(v)}`;
      }
      return undefined;
    case "google.protobuf.FieldMask":
      if (typeof v !== "string" || !FIELD_MASK.test(v)) {
        return `${at}: expected comma-separated lowerCamelCase field paths such as "name,owner.email", got ${show(v)}`;
      }
      return undefined;
    case "google.protobuf.Struct":
      if (!isObject(v)) return `${at}: expected an object, got ${show(v)}`;
      return checkJsonMembers(v, at, depth);
    case "google.protobuf.ListValue":
      if (!Array.isArray(v)) return `${at}: expected an array, got ${show(v)}`;
      return checkJsonMembers(v, at, depth);
    case VALUE:
      return checkJson(v, at, depth + 1);
    case "google.protobuf.Any":
      if (!isObject(v) || typeof v["@type"] !== "string" || v["@type"] === "") {
        return `${at}: expected an object with "@type", a type URL such as "type.googleapis.com/pkg.Message", got ${show(v)}`;
      }
      return undefined; // its contents need the registry: fromJson checks them
  }
  return checkMessage(desc, v, at, depth);
}

/** The members of a Struct or elements of a ListValue, each one `google.protobuf.Value` deeper. */
function checkJsonMembers(
  v: { readonly [k: string]: unknown } | readonly unknown[],
  at: string,
  depth: number,
): Problem {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const problem = checkJson(v[i], `${at}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, x] of Object.entries(v)) {
    const where = `${at}[${show(key)}]`;
    if (LONE_SURROGATE.test(key)) return `${where}: the key is ${notUnicode(key)}`;
    const problem = checkJson(x, where, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** Any JSON as a `google.protobuf.Value`: bounded in depth, strings valid Unicode. */
function checkJson(v: unknown, at: string, depth: number): Problem {
  if (depth > MAX_DEPTH) return tooDeep(at);
  if (typeof v === "string") return LONE_SURROGATE.test(v) ? `${at}: ${notUnicode(v)}` : undefined;
  if (Array.isArray(v) || isObject(v)) return checkJsonMembers(v, at, depth);
  return undefined;
}

function checkScalar(type: ScalarType, v: unknown, at: string): Problem {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      if (typeof v === "string") return `${at}: expected an integer, got the string ${show(v)}`;
      return typeof v === "number" && Number.isInteger(v) && inRange(type, BigInt(v))
        ? undefined
        : `${at}: expected an integer ${rangeText(type)}, got ${show(v)}`;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const digits = type === ScalarType.UINT64 || type === ScalarType.FIXED64 ? UINT64 : INT64;
      const ok =
        (typeof v === "number" && Number.isInteger(v) && inRange(type, BigInt(v))) ||
        (typeof v === "string" && digits.test(v) && inRange(type, BigInt(v)));
      return ok
        ? undefined
        : `${at}: expected an integer ${rangeText(type)} (a number or a decimal string), got ${show(v)}`;
    }
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      if (typeof v === "string") {
        return NON_FINITE.has(v)
          ? undefined
          : `${at}: expected a number (or "NaN", "Infinity", "-Infinity"), got the string ${show(v)}`;
      }
      if (typeof v !== "number") return `${at}: expected a number, got ${show(v)}`;
      return type === ScalarType.FLOAT && Number.isFinite(v) && !Number.isFinite(Math.fround(v))
        ? `${at}: ${v} is out of the range of a 32-bit float`
        : undefined;
    case ScalarType.BOOL:
      return typeof v === "boolean" ? undefined : `${at}: expected true or false, got ${show(v)}`;
    case ScalarType.STRING:
      if (typeof v !== "string") return `${at}: expected a string, got ${show(v)}`;
      return LONE_SURROGATE.test(v) ? `${at}: ${notUnicode(v)}` : undefined;
    case ScalarType.BYTES:
      return typeof v === "string" && BASE64.test(v)
        ? undefined
        : `${at}: expected bytes in base64 such as "AAEC/w==", got ${show(v)}`;
  }
}

/** Map keys are strings: integers in decimal, bools as "true"/"false". */
function checkMapKey(type: ScalarType, key: string, at: string): Problem {
  switch (type) {
    case ScalarType.STRING:
      return LONE_SURROGATE.test(key) ? `${at}: the key ${show(key)} is ${notUnicode(key)}` : undefined;
    case ScalarType.BOOL:
      return key === "true" || key === "false"
        ? undefined
        : `${at}: expected the key "true" or "false", got ${show(key)}`;
    default: {
      const digits =
        type === ScalarType.UINT64 ||
        type === ScalarType.FIXED64 ||
        type === ScalarType.UINT32 ||
        type === ScalarType.FIXED32
          ? UINT64
          : INT64;
      return digits.test(key) && inRange(type, BigInt(key))
        ? undefined
        : `${at}: expected keys that are decimal integers ${rangeText(type)}, got ${show(key)}`;
    }
  }
}

function checkEnum(desc: DescEnum, v: unknown, at: string): Problem {
  if (desc.typeName === NULL_VALUE) return v === null ? undefined : `${at}: expected null, got ${show(v)}`;
  if (typeof v === "number") return `${at}: expected the name of an enum value, got the number ${v}`;
  if (typeof v === "string" && desc.values.some((value) => value.name === v)) return undefined;
  const names = desc.values.map((value) => value.name).join(", ");
  return `${at}: expected one of ${names.length > 200 ? `${names.slice(0, 197)}...` : names}, got ${show(v)}`;
}

/** An RFC 3339 date-time that names a real instant within the Timestamp range. */
function isTimestamp(v: string): boolean {
  const m = TIMESTAMP.test(v) ? TIMESTAMP_PARTS.exec(v) : null;
  if (!m) return false;
  const [year, month, day, hour, minute, second, zoneHours, zoneMinutes] = m
    .slice(1)
    .map((x) => Number(x ?? 0));
  if (!month || !day || month > 12 || day > daysIn(year ?? 0, month)) return false;
  if ((hour ?? 0) > 23 || (minute ?? 0) > 59 || (second ?? 0) > 59) return false;
  if ((zoneHours ?? 0) > 23 || (zoneMinutes ?? 0) > 59) return false;
  // With the calendar checked, Date.parse is exact (fromJson decodes with it too).
  const ms = Date.parse(v.replace(/\.\d+/, ""));
  return ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isDuration(v: string): boolean {
  return DURATION.test(v) && Math.abs(Number.parseInt(v, 10)) <= DURATION_MAX_SECONDS;
}

function inRange(type: ScalarType, n: bigint): boolean {
  const range = RANGES[type];
  return range !== undefined && n >= range[0] && n <= range[1];
}

function rangeText(type: ScalarType): string {
  const range = RANGES[type];
  return range ? `from ${range[0]} to ${range[1]}` : "";
}

const fieldsByKey = new WeakMap<DescMessage, Map<string, DescField>>();

/** A message's fields by JSON name and by proto name (ProtoJSON accepts both). */
function fieldByKey(desc: DescMessage): Map<string, DescField> {
  let map = fieldsByKey.get(desc);
  if (!map) {
    map = new Map();
    for (const f of desc.fields) map.set(f.name, f).set(f.jsonName, f);
    fieldsByKey.set(desc, map);
  }
  return map;
}

function listNames(desc: DescMessage): string {
  if (desc.fields.length === 0) return "no fields";
  const names = desc.fields.slice(0, MAX_LISTED).map((f) => f.jsonName);
  return `the fields ${names.join(", ")}${desc.fields.length > MAX_LISTED ? ", ..." : ""}`;
}

function oneofNames(field: DescField): string {
  return (field.oneof?.fields ?? []).map((f) => f.jsonName).join(", ");
}

function noNull(at: string): string {
  return `${at}: null is not allowed here`;
}

function tooDeep(at: string): string {
  return `${at}: nested more than ${MAX_DEPTH} levels deep`;
}

function notUnicode(v: string): string {
  return `not valid Unicode text (it holds a lone surrogate: ${show(v)})`;
}

function isObject(v: unknown): v is { readonly [k: string]: unknown } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function show(v: unknown, max = 60): string {
  // Nested objects and arrays are abbreviated, so a deep value is never walked.
  let root = true;
  const s =
    JSON.stringify(v, (_key, x: unknown) => {
      if (root) {
        root = false;
        return x;
      }
      return x !== null && typeof x === "object" ? (Array.isArray(x) ? "[...]" : "{...}") : x;
    }) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
