import {
  create,
  type DescEnum,
  type DescField,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EchoResponseSchema, EchoService } from "../../gen/es/mcpengine/testing/v1/kitchen_sink_pb.js";
import { buildTools } from "../../src/catalog/index.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { type BackendHandle, callTool, createArgumentValidator } from "../../src/invoke/index.js";
import { replyJson } from "../../src/invoke/reply-json.js";
import { checkArguments } from "../../src/invoke/strict-json.js";
import { messageToJsonSchema } from "../../src/schema/index.js";
import { createAjv } from "../support/ajv.js";
import { startConnectServer } from "../support/echo-server.js";
import { IMAGE_PATH, imageRegistry } from "../support/image.js";
import { STATELESS_META, statelessRequest } from "../support/stateless.js";

/**
 * Tool arguments against the schemas generated for them (issue #16): values
 * drawn from a message's descriptor — every field kind, the well-known types,
 * recursion to a bounded depth — pass the JSON Schema and the gateway, and come
 * back from protobuf binary in their canonical ProtoJSON form; values broken in
 * one place are refused by `checkArguments` with a message naming the field,
 * never with an exception; on any JSON shaped like the message the gateway
 * never accepts what the schema refuses, and what `checkArguments` accepts
 * `fromJson` decodes. The same cases then go through `callTool` and through a
 * real gateway over HTTP. Same seed and `PROPERTY_RUNS` / `PROPERTY_SEED`
 * conventions as edge-parsers.test.ts.
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const SEED = process.env.PROPERTY_SEED
  ? Number(process.env.PROPERTY_SEED)
  : RUNS > 300
    ? undefined
    : 20261126;
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) };
// Longer runs get time in proportion (CI's 300 runs take a few seconds).
vi.setConfig({ testTimeout: Math.max(30_000, RUNS * 20) });

const registry = imageRegistry();
function messageDesc(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (!desc) throw new Error(`${typeName} is not in the image`);
  return desc;
}

/** The messages under test: every ProtoJSON corner, and the reflection interop record. */
const SUBJECTS = [
  messageDesc("mcpengine.testing.v1.KitchenSink"),
  messageDesc("mcpengine.interop.v1.Record"),
];

/** Nesting of generated messages (recursive types end there). */
const DEPTH = 3;

// ---------------------------------------------------------------------------
// Valid values, derived from a descriptor.
// "canonical" draws exactly what toJson writes; "lenient" also the other
// spellings the schema allows (proto field names, 64-bit numbers, offsets...).
// ---------------------------------------------------------------------------

type Mode = "canonical" | "lenient";
/** A field's JSON entry; `undefined` leaves the field out (ProtoJSON omits defaults). */
type Entry = readonly [string, JsonValue] | undefined;

const TEXT = fc.string({ unit: "grapheme", maxLength: 6 });
const INT32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const UINT32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const INT64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const UINT64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const SAFE = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const FLOAT32 = fc.float({ noNaN: true, noDefaultInfinity: true });
const DOUBLE = fc.double({ noNaN: true, noDefaultInfinity: true });
const NON_FINITE = fc.constantFrom("NaN", "Infinity", "-Infinity");
const BYTES = fc.uint8Array({ maxLength: 10 }).map((b) => Buffer.from(b));
const TYPE_URL = "type.googleapis.com/";

/** A 64-bit integer as ProtoJSON writes it (a decimal string) or, leniently, a number or zero-padded. */
function int64(range: fc.Arbitrary<bigint>, unsigned: boolean, mode: Mode): fc.Arbitrary<JsonValue> {
  const decimal = range.map(String);
  if (mode === "canonical") return decimal;
  const padded = fc
    .tuple(range, fc.integer({ min: 1, max: 3 }))
    .map(([n, zeros]) => `${n < 0n ? "-" : ""}${"0".repeat(zeros)}${n < 0n ? -n : n}`);
  const number = unsigned ? SAFE.map(Math.abs) : SAFE;
  return fc.oneof(decimal, number, padded);
}

function scalarArb(type: ScalarType, mode: Mode): fc.Arbitrary<JsonValue> {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64(INT64, false, mode);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return int64(UINT64, true, mode);
    // A double for a float field is rounded on the wire; that has its own property below.
    case ScalarType.FLOAT:
      return fc.oneof({ arbitrary: FLOAT32, weight: 4 }, NON_FINITE);
    case ScalarType.DOUBLE:
      return fc.oneof({ arbitrary: DOUBLE, weight: 4 }, NON_FINITE);
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return TEXT;
    case ScalarType.BYTES:
      return mode === "canonical"
        ? BYTES.map((b) => b.toString("base64"))
        : fc.oneof(
            BYTES.map((b) => b.toString("base64")),
            BYTES.map((b) => b.toString("base64url")),
            BYTES.map((b) => b.toString("base64").replace(/=+$/, "")),
          );
  }
}

/** Whether ProtoJSON leaves a field with implicit presence out for this value. */
function isDefault(field: DescField, json: JsonValue): boolean {
  if (field.fieldKind === "enum") return json === null || json === field.enum.values[0]?.name;
  if (field.fieldKind !== "scalar") return false;
  return json === 0 || json === "" || json === false || (json === "0" && isLong(field.scalar));
}

function isLong(type: ScalarType): boolean {
  return [
    ScalarType.INT64,
    ScalarType.SINT64,
    ScalarType.SFIXED64,
    ScalarType.UINT64,
    ScalarType.FIXED64,
  ].includes(type);
}

function enumArb(desc: DescEnum): fc.Arbitrary<JsonValue> {
  if (desc.typeName === "google.protobuf.NullValue") return fc.constant(null);
  return fc.constantFrom(...desc.values.map((v) => v.name));
}

// Timestamps: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, as ProtoJSON bounds them.
const TS_MIN = -62135596800;
const TS_MAX = 253402300799;
const DURATION_MAX = 315576000000;
const NANOS = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 999 }).map((n) => n * 1_000_000),
  fc.integer({ min: 0, max: 999_999 }).map((n) => n * 1_000),
  fc.integer({ min: 0, max: 999_999_999 }),
);

/** Fraction digits as toJson writes them: none, 3, 6 or 9. */
function fraction(nanos: number): string {
  if (nanos === 0) return "";
  const digits = String(nanos + 1e9).slice(1);
  if (digits.endsWith("000000")) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith("000")) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

/** The parts of an RFC 3339 date-time, any of them possibly out of range. */
interface Stamp {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  digits: string | undefined;
  offset: { sign: "+" | "-"; hours: number; minutes: number } | undefined;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

function stampText(s: Stamp): string {
  const zone = s.offset ? `${s.offset.sign}${pad(s.offset.hours)}:${pad(s.offset.minutes)}` : "Z";
  return `${pad(s.year, 4)}-${pad(s.month)}-${pad(s.day)}T${pad(s.hour)}:${pad(s.minute)}:${pad(s.second)}${
    s.digits === undefined ? "" : `.${s.digits}`
  }${zone}`;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Seconds since the epoch of a proleptic Gregorian date and time (H. Hinnant's days_from_civil). */
function epochSeconds(s: Stamp): number {
  const y = s.month <= 2 ? s.year - 1 : s.year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * ((s.month + 9) % 12) + 2) / 5) + s.day - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return days * 86400 + s.hour * 3600 + s.minute * 60 + s.second;
}

/** The oracle: a real calendar date and time, a real offset, within the Timestamp range. */
function stampValid(s: Stamp): boolean {
  if (s.month < 1 || s.month > 12 || s.day < 1 || s.day > daysIn(s.year, s.month)) return false;
  if (s.hour > 23 || s.minute > 59 || s.second > 59) return false;
  if (s.offset && (s.offset.hours > 23 || s.offset.minutes > 59)) return false;
  const shift = s.offset
    ? (s.offset.sign === "+" ? 1 : -1) * (s.offset.hours * 3600 + s.offset.minutes * 60)
    : 0;
  const utc = epochSeconds(s) - shift;
  return utc >= TS_MIN && utc <= TS_MAX;
}

/** Date-time parts drawn around and past the edges of each range. */
const STAMP: fc.Arbitrary<Stamp> = fc.record({
  year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1900, 2000, 2024, 9999)),
  month: fc.integer({ min: 0, max: 13 }),
  day: fc.integer({ min: 0, max: 32 }),
  hour: fc.integer({ min: 0, max: 25 }),
  minute: fc.integer({ min: 0, max: 60 }),
  second: fc.integer({ min: 0, max: 61 }),
  digits: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
  offset: fc.option(
    fc.record({
      sign: fc.constantFrom("+" as const, "-" as const),
      hours: fc.integer({ min: 0, max: 24 }),
      minutes: fc.integer({ min: 0, max: 60 }),
    }),
    { nil: undefined },
  ),
});

const timestampCanonical = fc
  .tuple(fc.integer({ min: TS_MIN, max: TS_MAX }), NANOS)
  .map(([seconds, nanos]) => new Date(seconds * 1000).toISOString().replace(".000Z", `${fraction(nanos)}Z`));
const timestampLenient = fc.oneof(
  timestampCanonical,
  STAMP.map((s) => ({
    ...s,
    month: Math.min(Math.max(s.month, 1), 12),
    day: Math.min(Math.max(s.day, 1), 28),
  }))
    .filter(stampValid)
    .map(stampText),
);

const durationCanonical = fc
  .tuple(fc.bigInt({ min: BigInt(-DURATION_MAX), max: BigInt(DURATION_MAX) }), NANOS, fc.boolean())
  .map(([seconds, nanos, negative]) => {
    const sign = seconds < 0n || (seconds === 0n && negative && nanos > 0) ? "-" : "";
    return `${sign}${seconds < 0n ? -seconds : seconds}${fraction(nanos)}s`;
  });
const durationLenient = fc.oneof(
  durationCanonical,
  fc
    .tuple(
      fc.constantFrom("", "-"),
      fc.bigInt({ min: 0n, max: BigInt(DURATION_MAX) }),
      fc.integer({ min: 0, max: 2 }),
      fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
    )
    .map(
      ([sign, s, zeros, digits]) =>
        `${sign}${"0".repeat(zeros)}${s}${digits === undefined ? "" : `.${digits}`}s`,
    ),
);

/** lowerCamelCase paths of snake_case names, so that toJson can write them back. */
const WORD = fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/);
const FIELD_MASK = fc
  .array(
    fc
      .array(
        fc
          .array(WORD, { minLength: 1, maxLength: 3 })
          .map((w) => w.map((x, i) => (i === 0 ? x : x[0]?.toUpperCase() + x.slice(1))).join("")),
        { minLength: 1, maxLength: 3 },
      )
      .map((segments) => segments.join(".")),
    { maxLength: 3 },
  )
  .map((paths) => paths.join(","));

const JSON_VALUE = fc.jsonValue({ maxDepth: 2, stringUnit: "grapheme" }) as fc.Arbitrary<JsonValue>;
const STRUCT: fc.Arbitrary<JsonValue> = fc.dictionary(TEXT, JSON_VALUE, { maxKeys: 4 });

const WRAPPERS: { [typeName: string]: ScalarType } = {
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

/** Types an Any may carry: the well-known types with a JSON form of their own, and Empty. */
const ANY_WKT: { [typeName: string]: fc.Arbitrary<JsonValue> } = {
  "google.protobuf.Duration": durationCanonical,
  "google.protobuf.Timestamp": timestampCanonical,
  "google.protobuf.Struct": STRUCT,
  "google.protobuf.Int64Value": INT64.map(String),
  "google.protobuf.FieldMask": FIELD_MASK,
};

const arbs = new Map<string, fc.Arbitrary<JsonObject>>();

/** A valid JSON object for a message, nested at most `depth` messages deep. */
function messageArb(desc: DescMessage, mode: Mode, depth: number): fc.Arbitrary<JsonObject> {
  const key = `${mode} ${desc.typeName} ${depth}`;
  let arb = arbs.get(key);
  if (!arb) {
    const parts: fc.Arbitrary<Entry>[] = [];
    for (const field of desc.fields) {
      if (field.oneof) continue;
      const entry = entryArb(field, mode, depth);
      if (entry) parts.push(fc.option(entry, { nil: undefined, freq: 2 }));
    }
    for (const oneof of desc.oneofs) {
      const members = oneof.fields.flatMap((f) => entryArb(f, mode, depth) ?? []);
      if (members.length > 0) parts.push(fc.option(fc.oneof(...members), { nil: undefined, freq: 2 }));
    }
    arb = fc.tuple(...parts).map((entries) => {
      const out: JsonObject = {};
      for (const e of entries) if (e) out[e[0]] = e[1];
      return out;
    });
    arbs.set(key, arb);
  }
  return arb;
}

/** A field's key (its JSON name; leniently also its proto name) and value. */
function entryArb(field: DescField, mode: Mode, depth: number): fc.Arbitrary<Entry> | undefined {
  const value = fieldValueArb(field, mode, depth);
  if (!value) return undefined;
  const key =
    mode === "lenient" && field.name !== field.jsonName
      ? fc.constantFrom(field.jsonName, field.name)
      : fc.constant(field.jsonName);
  const implicit = !field.oneof && field.presence === 2; /* FeatureSet.FieldPresence.IMPLICIT */
  return fc.tuple(key, value).map(([k, v]): Entry => {
    if (v === undefined) return undefined;
    if (mode === "canonical" && implicit && isDefault(field, v)) return undefined;
    return [k, v];
  });
}

function fieldValueArb(
  field: DescField,
  mode: Mode,
  depth: number,
): fc.Arbitrary<JsonValue | undefined> | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArb(field.scalar, mode);
    case "enum":
      return enumArb(field.enum);
    case "message":
      return messageValueArb(field.message, mode, depth);
    case "list": {
      const item = elementArb(field, mode, depth);
      if (!item) return undefined;
      // ProtoJSON leaves empty lists out.
      return fc
        .array(item, { maxLength: 3 })
        .map((a) => (mode === "canonical" && a.length === 0 ? undefined : a));
    }
    case "map": {
      const value = elementArb(field, mode, depth);
      if (!value) return undefined;
      return fc
        .uniqueArray(fc.tuple(mapKeyArb(field.mapKey, mode), value), {
          maxLength: 3,
          selector: ([k]) => canonicalKey(field.mapKey, k),
        })
        .map((entries) =>
          mode === "canonical" && entries.length === 0 ? undefined : Object.fromEntries(entries),
        );
    }
  }
}

/** One element of a list, or one value of a map. */
function elementArb(field: DescField, mode: Mode, depth: number): fc.Arbitrary<JsonValue> | undefined {
  const kind =
    field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : undefined;
  if (kind === "scalar") return scalarArb(field.scalar as ScalarType, mode);
  if (kind === "enum") return enumArb(field.enum as DescEnum);
  return messageValueArb(field.message as DescMessage, mode, depth);
}

function mapKeyArb(type: ScalarType, mode: Mode): fc.Arbitrary<string> {
  switch (type) {
    case ScalarType.STRING:
      return TEXT;
    case ScalarType.BOOL:
      return fc.constantFrom("true", "false");
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32.map(String);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32.map(String);
    default: {
      const unsigned = type === ScalarType.UINT64 || type === ScalarType.FIXED64;
      return int64(unsigned ? UINT64 : INT64, unsigned, mode).map(String);
    }
  }
}

/** The key a map key string stands for ("007" and "7" are one key). */
function canonicalKey(type: ScalarType, key: string): string {
  return type === ScalarType.STRING || type === ScalarType.BOOL ? key : String(BigInt(key));
}

/** A message-typed value: a well-known type's own JSON form, or an object one level down. */
function messageValueArb(desc: DescMessage, mode: Mode, depth: number): fc.Arbitrary<JsonValue> | undefined {
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped !== undefined) {
    const value = scalarArb(wrapped, mode);
    return mode === "lenient" ? fc.oneof({ arbitrary: value, weight: 4 }, fc.constant(null)) : value;
  }
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return mode === "canonical" ? timestampCanonical : timestampLenient;
    case "google.protobuf.Duration":
      return mode === "canonical" ? durationCanonical : durationLenient;
    case "google.protobuf.FieldMask":
      return FIELD_MASK;
    case "google.protobuf.Struct":
      return STRUCT;
    case "google.protobuf.Value":
      return JSON_VALUE;
    case "google.protobuf.ListValue":
      return fc.array(JSON_VALUE, { maxLength: 3 });
    case "google.protobuf.Empty":
      return fc.constant({});
    case "google.protobuf.Any":
      return anyArb(mode, depth);
  }
  if (depth <= 0) return undefined;
  return messageArb(desc, mode, depth - 1);
}

/** An Any of a well-known type (`value` holds its JSON), of Empty, or of a message of the subject's file. */
function anyArb(mode: Mode, depth: number): fc.Arbitrary<JsonValue> {
  const url = (typeName: string) => `${mode === "lenient" ? "example.com/types/" : TYPE_URL}${typeName}`;
  const options: fc.Arbitrary<JsonValue>[] = [
    ...Object.entries(ANY_WKT).map(([typeName, value]) =>
      value.map((v) => ({ "@type": url(typeName), value: v })),
    ),
    fc.constant({ "@type": url("google.protobuf.Empty") }),
  ];
  if (depth > 0) {
    // Messages of the subjects' own files (any message the registry resolves would do).
    for (const m of SUBJECTS.flatMap((s) => s.file.messages)) {
      const body = messageArb(m, mode, depth - 1);
      options.push(body.map((b) => ({ "@type": url(m.typeName), ...b })));
    }
  }
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------
// Invalid values: a valid message with one place broken, and the names a
// clear refusal must mention (the field's JSON or proto name, or the key).
// ---------------------------------------------------------------------------

interface Broken {
  readonly value: JsonValue;
  readonly names: readonly string[];
}

const namesOf = (field: DescField) => [field.jsonName, field.name];
const LONE_SURROGATES = fc.constantFrom("\ud800", "a\udc00b", "\udbff");
const WRONG_TYPES = fc.constantFrom<JsonValue>(true, {}, [], "x");

function badScalar(type: ScalarType): fc.Arbitrary<JsonValue> {
  const fractions = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d));
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(
        INT32.map(String),
        fractions,
        fc.integer({ min: 0, max: 1000 }).chain((n) => fc.constantFrom(2 ** 31 + n, -(2 ** 31) - 1 - n)),
        WRONG_TYPES,
      );
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(
        UINT32.map(String),
        fractions,
        fc.integer({ min: 0, max: 1000 }).chain((n) => fc.constantFrom(2 ** 32 + n, -1 - n)),
        WRONG_TYPES,
      );
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(
        fractions,
        fc.constantFrom(1e19, -1e19, 1e300),
        fc
          .bigInt({ min: 0n, max: 1000n })
          .chain((n) => fc.constantFrom(String(2n ** 63n + n), String(-(2n ** 63n) - 1n - n))),
        fc.constantFrom("0x10", " 5", "5 ", "+5", "1e3", "5.0", "", "abc", "0b1", "0o7", "٣", "--1", "1_000"),
        fc.constantFrom<JsonValue>(true, {}, []),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(
        fractions,
        fc.integer({ min: 1, max: 1000 }).map((n) => -n),
        fc
          .bigInt({ min: 1n, max: 1000n })
          .chain((n) => fc.constantFrom(String(-n), String(2n ** 64n - 1n + n))),
        fc.constantFrom("-0", "0x10", " 5", "+5", "1e3", "5.0", "", "abc"),
        fc.constantFrom<JsonValue>(true, {}, []),
      );
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return fc.oneof(
        DOUBLE.map(String),
        fc.constantFrom("nan", "inf", "+Infinity", "infinity", "-NaN", "", " 1", "1e3"),
        type === ScalarType.FLOAT ? fc.constantFrom(1e39, -3.5e38, Number.MAX_VALUE) : fc.constant(true),
        fc.constantFrom<JsonValue>(true, false, {}, []),
      );
    case ScalarType.BOOL:
      return fc.constantFrom<JsonValue>("true", "false", 0, 1, "", {}, []);
    case ScalarType.STRING:
      return fc.oneof(LONE_SURROGATES, fc.constantFrom<JsonValue>(5, true, {}, []));
    case ScalarType.BYTES:
      return fc.constantFrom<JsonValue>(
        "not base64!",
        " AQID",
        "AQID ",
        "AQ==AQ==",
        "A",
        "AQ=",
        "AQID=",
        "====",
        "%%%%",
        "AQ\nID",
        5,
        true,
        {},
        [],
      );
  }
}

function badEnum(desc: DescEnum): fc.Arbitrary<JsonValue> {
  if (desc.typeName === "google.protobuf.NullValue")
    return fc.constantFrom<JsonValue>("NULL_VALUE", 0, "x", true, {});
  const names = new Set(desc.values.map((v) => v.name));
  return fc.oneof(
    fc.integer({ min: -2, max: desc.values.length + 2 }),
    TEXT.filter((s) => !names.has(s)),
    fc.constantFrom(...desc.values.map((v) => v.name.toLowerCase())).filter((s) => !names.has(s)),
    fc.constantFrom<JsonValue>(true, {}, []),
  );
}

const badTimestamp = fc.oneof(
  STAMP.filter((s) => !stampValid(s)).map(stampText),
  fc.constantFrom<JsonValue>(
    "yesterday",
    "2026-01-02 15:04:05Z",
    "2026-01-02T15:04:05",
    "2026-01-02t15:04:05z",
    "2026-01-02T15:04:05.1234567890Z",
    "2026-01-02T15:04:05+0100",
    "+2026-01-02T15:04:05Z",
    1767366245,
    {},
  ),
);

const badDuration = fc.oneof(
  fc.bigInt({ min: 1n, max: 10n ** 15n }).map((n) => `${n + BigInt(DURATION_MAX)}s`),
  fc.bigInt({ min: 1n, max: 10n ** 15n }).map((n) => `-${n + BigInt(DURATION_MAX)}s`),
  fc.constantFrom<JsonValue>(
    "1.5",
    "PT1S",
    "1 s",
    "+1s",
    "1sXYZ",
    "1.0000000001s",
    "s",
    "-s",
    "1.s",
    " 1s",
    5,
    {},
  ),
);

function badMessageValue(desc: DescMessage, field: DescField, depth: number): fc.Arbitrary<Broken> {
  const at = (value: fc.Arbitrary<JsonValue>) => value.map((v) => ({ value: v, names: namesOf(field) }));
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped !== undefined) return at(badScalar(wrapped));
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return at(badTimestamp);
    case "google.protobuf.Duration":
      return at(badDuration);
    case "google.protobuf.FieldMask":
      return at(fc.constantFrom<JsonValue>("a b", "a,,b", "foo_bar", ",", "a.", ".a", "é", "a-b", 5, {}));
    case "google.protobuf.Struct":
      return at(
        fc.oneof(
          fc.constantFrom<JsonValue>([], 5, "x", true),
          LONE_SURROGATES.map((s) => ({ k: s })),
        ),
      );
    case "google.protobuf.ListValue":
      return at(
        fc.oneof(
          fc.constantFrom<JsonValue>({}, 5, "x"),
          LONE_SURROGATES.map((s) => [s]),
        ),
      );
    case "google.protobuf.Value":
      return at(
        fc.oneof(
          LONE_SURROGATES,
          LONE_SURROGATES.map((s) => ({ a: [s] })),
        ),
      );
    case "google.protobuf.Any":
      return at(fc.constantFrom<JsonValue>({}, { "@type": 5 }, { "@type": "" }, { name: "x" }, 5, [], "x"));
    case "google.protobuf.Empty":
      return at(fc.constantFrom<JsonValue>({ x: 1 }, 5, [], "x"));
  }
  const notObject = at(fc.constantFrom<JsonValue>(5, "x", [], true));
  return depth > 0 ? fc.oneof(notObject, brokenMessage(desc, depth - 1)) : notObject;
}

/** A value for one list element or map value that breaks it. */
function badItem(field: DescField, depth: number): fc.Arbitrary<Broken> {
  const at = (value: fc.Arbitrary<JsonValue>) => value.map((v) => ({ value: v, names: namesOf(field) }));
  const kind =
    field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : undefined;
  const nullable =
    (kind === "enum" && field.enum?.typeName === "google.protobuf.NullValue") ||
    (kind === "message" && field.message?.typeName === "google.protobuf.Value");
  const bad =
    kind === "scalar"
      ? at(badScalar(field.scalar as ScalarType))
      : kind === "enum"
        ? at(badEnum(field.enum as DescEnum))
        : badMessageValue(field.message as DescMessage, field, depth);
  return nullable ? bad : fc.oneof(bad, at(fc.constant(null)));
}

function badMapKey(type: ScalarType): fc.Arbitrary<string> {
  switch (type) {
    case ScalarType.STRING:
      return LONE_SURROGATES;
    case ScalarType.BOOL:
      return fc.constantFrom("True", "1", "0", "yes", "", "TRUE");
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.constantFrom("abc", "1.5", "0x10", " 5", "5 ", "+5", "1e1", "", "2147483648", "-2147483649");
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.constantFrom("-1", "-0", "4294967296", "0x10", " 5", "1e1", "");
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.constantFrom("-1", "-0", "18446744073709551616", "0x10", " 5", "1e1", "");
    default:
      return fc.constantFrom("abc", "1.5", "0x10", " 5", "+5", "1e1", "", "9223372036854775808");
  }
}

/** A field's value broken in one place: its own value, an element, a key, or something nested. */
function badFieldValue(field: DescField, depth: number): fc.Arbitrary<Broken> {
  const at = (value: fc.Arbitrary<JsonValue>) => value.map((v) => ({ value: v, names: namesOf(field) }));
  switch (field.fieldKind) {
    case "scalar":
      return at(badScalar(field.scalar));
    case "enum":
      return at(badEnum(field.enum));
    case "message":
      return badMessageValue(field.message, field, depth);
    case "list": {
      const valid = fieldValueArb(field, "lenient", depth) ?? fc.constant([]);
      return fc.oneof(
        at(fc.constantFrom<JsonValue>(5, "x", {}, true)),
        fc.tuple(valid, badItem(field, depth), fc.nat()).map(([items, bad, i]) => {
          const list = Array.isArray(items) ? [...items] : [];
          list.splice(i % (list.length + 1), 0, bad.value);
          return { value: list, names: bad.names };
        }),
      );
    }
    case "map": {
      const valid = fieldValueArb(field, "lenient", depth) ?? fc.constant({});
      const goodValue = elementArb(field, "lenient", depth) ?? fc.constant(null);
      const withEntry = (key: string, value: JsonValue, names: readonly string[]) =>
        valid.map((m) => ({ value: { ...(m as JsonObject), [key]: value }, names }));
      const options: fc.Arbitrary<Broken>[] = [
        at(fc.constantFrom<JsonValue>([], 5, "x", true)),
        fc
          .tuple(badItem(field, depth), mapKeyArb(field.mapKey, "lenient"))
          .chain(([bad, key]) => withEntry(key, bad.value, bad.names)),
      ];
      options.push(
        fc.tuple(badMapKey(field.mapKey), goodValue).chain(([key, v]) => withEntry(key, v, namesOf(field))),
      );
      if (field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL) {
        // "7" and "007" are the same key.
        options.push(
          fc
            .tuple(
              UINT32.map((n) => n % 1000),
              goodValue,
              goodValue,
            )
            .map(([n, a, b]) => ({ value: { [String(n)]: a, [`00${n}`]: b }, names: namesOf(field) })),
        );
      }
      return fc.oneof(...options);
    }
  }
}

/** A valid message with one thing wrong in it, at most `depth` messages down. */
function brokenMessage(desc: DescMessage, depth: number): fc.Arbitrary<Broken> {
  const base = messageArb(desc, "lenient", depth);
  const known = new Set(desc.fields.flatMap(namesOf));
  const options: fc.Arbitrary<Broken>[] = [
    fc
      .tuple(
        base,
        TEXT.filter((k) => !known.has(k)),
        JSON_VALUE,
      )
      .map(([b, key, v]) => ({ value: { ...b, [key]: v }, names: [key, JSON.stringify(key)] })),
  ];
  if (desc.fields.length > 0) {
    options.push(
      fc.constantFrom(...desc.fields).chain((field) =>
        fc
          .tuple(base, badFieldValue(field, depth), fc.constantFrom(field.jsonName, field.name))
          .map(([b, bad, key]) => {
            const out = { ...b };
            for (const f of field.oneof?.fields ?? [field]) for (const n of namesOf(f)) delete out[n];
            out[key] = bad.value;
            return { value: out, names: bad.names };
          }),
      ),
    );
  }
  const aliased = desc.fields.filter((f) => f.name !== f.jsonName);
  if (aliased.length > 0) {
    // The same field under its JSON name and its proto name.
    options.push(
      fc.constantFrom(...aliased).chain((field) =>
        fc.tuple(base, fieldValueArb(field, "lenient", depth) ?? fc.constant(null)).map(([b, given]) => {
          const v = given ?? null; // set twice, even as null
          const out = { ...b };
          for (const f of field.oneof?.fields ?? []) for (const n of namesOf(f)) delete out[n];
          return {
            value: { ...out, [field.jsonName]: v as JsonValue, [field.name]: v as JsonValue },
            names: namesOf(field),
          };
        }),
      ),
    );
  }
  for (const oneof of desc.oneofs) {
    const members = oneof.fields.filter((f) => fieldValueArb(f, "lenient", depth));
    if (members.length < 2) continue;
    // Two members of one oneof.
    options.push(
      fc
        .uniqueArray(fc.constantFrom(...members), { minLength: 2, maxLength: 2 })
        .chain((pair) =>
          fc.tuple(
            base,
            ...pair.map((f) =>
              (fieldValueArb(f, "lenient", depth) as fc.Arbitrary<JsonValue | undefined>).map(
                (v) => [f, v] as const,
              ),
            ),
          ),
        )
        .map(([b, ...set]) => {
          const out = { ...b };
          for (const f of oneof.fields) for (const n of namesOf(f)) delete out[n];
          for (const [f, v] of set) out[f.jsonName] = v ?? null;
          return { value: out, names: [...set.flatMap(([f]) => namesOf(f)), oneof.name] };
        }),
    );
  }
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------
// Any JSON shaped like the message: field keys with valid, broken or random values.
// ---------------------------------------------------------------------------

function shapedArb(desc: DescMessage, depth: number): fc.Arbitrary<JsonObject> {
  const byKey = desc.fields.flatMap((f) => namesOf(f).map((n) => [n, f] as const));
  if (byKey.length === 0) return fc.dictionary(TEXT, JSON_VALUE, { maxKeys: 2 });
  const entry = fc.oneof(
    { arbitrary: fc.tuple(TEXT, JSON_VALUE), weight: 1 },
    {
      arbitrary: fc.constantFrom(...byKey).chain(([key, field]) => {
        // Few entries, mostly near misses, so that one value the gateway should refuse is not hidden by another.
        const values: fc.WeightedArbitrary<JsonValue>[] = [
          { arbitrary: JSON_VALUE, weight: 1 },
          { arbitrary: badFieldValue(field, Math.max(depth - 1, 0)).map((b) => b.value), weight: 3 },
        ];
        const valid = fieldValueArb(field, "lenient", depth);
        if (valid) values.push({ arbitrary: valid.map((v) => v ?? null), weight: 2 });
        if (depth > 0 && field.message && !field.message.typeName.startsWith("google.protobuf.")) {
          const nested = shapedArb(field.message, depth - 1);
          const arbitrary = field.fieldKind === "list" ? fc.array(nested, { maxLength: 2 }) : nested;
          values.push({ arbitrary, weight: 2 });
        }
        return fc.tuple(fc.constant(key), fc.oneof(...values));
      }),
      weight: 8,
    },
  );
  return fc.array(entry, { maxLength: 3 }).map((entries) => Object.fromEntries(entries));
}

// ---------------------------------------------------------------------------
// Helpers: the gateway's path, canonical forms and comparisons.
// ---------------------------------------------------------------------------

/** What the gateway receives: the value after JSON text (lone surrogates and all). */
const wire = (v: JsonValue): JsonValue => JSON.parse(JSON.stringify(v));

/** The gateway's decoding of tool arguments (invoke/call.ts): checkArguments, then fromJson. */
function decode(
  desc: DescMessage,
  args: JsonValue,
): { message: MessageShape<DescMessage> } | { problem: string } {
  const problem = checkArguments(desc, args);
  if (problem !== undefined) return { problem };
  try {
    return { message: fromJson(desc, args, { registry, ignoreUnknownFields: false }) };
  } catch (err) {
    return { problem: `fromJson: ${(err as Error).message}` };
  }
}

/** toJson of the message after a trip through protobuf binary. */
function viaBinary(desc: DescMessage, message: MessageShape<DescMessage>): JsonValue {
  return toJson(desc, fromBinary(desc, toBinary(desc, message)), { registry });
}

/**
 * The canonical form of a decoded message: toJson, with float fields rounded
 * to 32 bits as the wire holds them (fromJson keeps the double it was given).
 */
function canonical(desc: DescMessage, message: MessageShape<DescMessage>): JsonValue {
  return wire(roundFloats(desc, toJson(desc, message, { registry })));
}

function roundFloats(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  if (desc.typeName === "google.protobuf.Any") {
    const inner = registry.getMessage(String(json["@type"]).split("/").pop() ?? "");
    if (!inner || inner.typeName.startsWith("google.protobuf.")) return json;
    return roundFloats(inner, json);
  }
  if (desc.typeName.startsWith("google.protobuf.")) return json;
  const out: JsonObject = { ...json };
  for (const field of desc.fields) {
    const v = out[field.jsonName];
    if (v === undefined) continue;
    const one = (x: JsonValue): JsonValue =>
      field.scalar === ScalarType.FLOAT && typeof x === "number"
        ? Math.fround(x)
        : field.message?.typeName === "google.protobuf.FloatValue" && typeof x === "number"
          ? Math.fround(x)
          : field.message
            ? roundFloats(field.message, x)
            : x;
    if (field.fieldKind === "list" && Array.isArray(v)) out[field.jsonName] = v.map(one);
    else if (field.fieldKind === "map" && v && typeof v === "object" && !Array.isArray(v)) {
      out[field.jsonName] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, one(x)]));
    } else out[field.jsonName] = one(v);
    // A float too small for 32 bits is 0 on the wire, and ProtoJSON leaves an implicit 0 out (not -0).
    if (!field.oneof && field.presence === 2 && Object.is(out[field.jsonName], 0)) delete out[field.jsonName];
  }
  return out;
}

/** The value with every null object member left out: ProtoJSON reads null as "not set". */
function withoutNulls(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, withoutNulls(x)]),
  );
}

const ajv = createAjv();
const schemas = new Map(
  SUBJECTS.map((desc) => [
    desc.typeName,
    {
      input: ajv.compile(messageToJsonSchema(desc, { mode: "input" })),
      output: ajv.compile(messageToJsonSchema(desc, { mode: "output" })),
    },
  ]),
);
function schemaOf(desc: DescMessage) {
  const s = schemas.get(desc.typeName);
  if (!s) throw new Error(`no schema for ${desc.typeName}`);
  return s;
}

// ---------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------

describe.each(SUBJECTS.map((desc) => [desc.typeName, desc] as const))(
  "tool arguments of %s",
  (_name, desc) => {
    const { input, output } = schemaOf(desc);

    it("accepts every valid value, and protobuf binary gives back its canonical form", () => {
      fc.assert(
        fc.property(
          fc.oneof(
            messageArb(desc, "canonical", DEPTH).map((v) => ({ v, canonical: true })),
            messageArb(desc, "lenient", DEPTH).map((v) => ({ v, canonical: false })),
          ),
          ({ v, canonical: isCanonical }) => {
            const args = wire(v);
            expect(input(args), JSON.stringify(input.errors)).toBe(true);
            const got = decode(desc, args);
            if ("problem" in got) throw new Error(got.problem);
            const back = wire(viaBinary(desc, got.message));
            expect(back).toEqual(canonical(desc, got.message));
            if (isCanonical) expect(back).toEqual(args);
            // What the tool answers with the same message matches its output schema.
            const reply = replyJson(desc, fromBinary(desc, toBinary(desc, got.message)), registry);
            expect(output(reply), JSON.stringify(output.errors)).toBe(true);
          },
        ),
        params,
      );
    });

    it("refuses a value broken in one place with a message that names the field", () => {
      fc.assert(
        fc.property(brokenMessage(desc, DEPTH), ({ value, names }) => {
          const got = decode(desc, wire(value));
          if (!("problem" in got)) throw new Error(`accepted: ${JSON.stringify(value)}`);
          expect(got.problem.startsWith("fromJson: "), got.problem).toBe(false);
          expect(
            names.some((n) => got.problem.includes(n)),
            `${got.problem} should name one of ${names.join(", ")}`,
          ).toBe(true);
        }),
        params,
      );
    });

    it("never accepts what the schema refuses, and what it accepts survives the wire and the reply", () => {
      fc.assert(
        fc.property(shapedArb(desc, DEPTH), (v) => {
          const args = wire(v);
          const got = decode(desc, args); // never throws
          if ("problem" in got) return;
          // Null members mean "not set" to ProtoJSON; the schema, which lists none, is asked without them.
          expect(input(withoutNulls(args)), `the schema refuses ${JSON.stringify(args)}`).toBe(true);
          expect(wire(viaBinary(desc, got.message))).toEqual(canonical(desc, got.message));
          const reply = replyJson(desc, fromBinary(desc, toBinary(desc, got.message)), registry);
          expect(output(reply), JSON.stringify(output.errors)).toBe(true);
        }),
        params,
      );
    });

    it("leaves nothing to fromJson: what checkArguments accepts, fromJson decodes", () => {
      fc.assert(
        fc.property(shapedArb(desc, DEPTH), (v) => {
          const args = wire(v);
          if (checkArguments(desc, args) !== undefined) return;
          expect(() => fromJson(desc, args, { registry, ignoreUnknownFields: false })).not.toThrow();
        }),
        params,
      );
    });
  },
);

describe("floats on the wire", () => {
  const sink = SUBJECTS[0] as DescMessage;
  it("carry any double given for a float field as the nearest float32", () => {
    fc.assert(
      fc.property(fc.double({ min: -3.4e38, max: 3.4e38, noNaN: true }), (d) => {
        const got = decode(sink, { flt: d, wFlt: d, dbl: d });
        if ("problem" in got) throw new Error(got.problem);
        const back = wire(viaBinary(sink, got.message)) as JsonObject;
        expect([back.flt ?? 0, back.wFlt, back.dbl ?? 0]).toEqual(wire([Math.fround(d), Math.fround(d), d]));
      }),
      params,
    );
  });
});

describe("nesting depth", () => {
  const sink = SUBJECTS[0] as DescMessage;
  /** Tree nodes, Struct objects or ListValue arrays nested `n` deep, as JSON text. */
  const nested = (kind: number, n: number) =>
    kind === 0
      ? `{"tree":${'{"children":['.repeat(n)}{}${"]}".repeat(n)}}`
      : kind === 1
        ? `{"attrs":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`
        : `{"list":${"[".repeat(n)}1${"]".repeat(n)}}`;

  it("refuses arguments nested too deep with a message, whatever the depth, and accepts shallow ones", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.oneof(
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 61, max: 200 }),
          fc.integer({ min: 1, max: 30_000 }),
        ),
        (kind, n) => {
          const got = decode(sink, JSON.parse(nested(kind, n)));
          if (n <= 60) expect("message" in got, "problem" in got ? got.problem : "").toBe(true);
          if ("problem" in got) {
            expect(got.problem).toMatch(/^(tree|attrs|list)\b/);
            expect(got.problem).toMatch(/deep/);
          }
        },
      ),
      { ...params, numRuns: Math.min(RUNS, 100) },
    );
  });
});

// ---------------------------------------------------------------------------
// Through callTool in process, and through a real gateway over HTTP.
// ---------------------------------------------------------------------------

const sinkDesc = SUBJECTS[0] as DescMessage;
const echoRequest = messageDesc("mcpengine.testing.v1.EchoRequest");
const echoResponse = messageDesc("mcpengine.testing.v1.EchoResponse");

/** A case for a whole tool call: the arguments as JSON text, and valid ones' canonical form or broken ones' names. */
type Call =
  | { readonly kind: "valid"; readonly text: string; readonly expected: JsonValue }
  | { readonly kind: "broken"; readonly text: string; readonly names: readonly string[] };

const CALLS: fc.Arbitrary<Call> = fc.oneof(
  fc.oneof(messageArb(sinkDesc, "canonical", 2), messageArb(sinkDesc, "lenient", 2)).map((v): Call => {
    const text = JSON.stringify({ sink: v });
    const message = fromJson(echoRequest, JSON.parse(text), { registry });
    return { kind: "valid", text, expected: canonical(echoRequest, message) };
  }),
  brokenMessage(sinkDesc, 2).map(
    (b): Call => ({ kind: "broken", text: JSON.stringify({ sink: b.value }), names: b.names }),
  ),
  // Deeper than anything may recurse on (JSON.stringify could not write it).
  fc.integer({ min: 101, max: 20_000 }).map(
    (n): Call => ({
      kind: "broken",
      text: `{"sink":{"tree":${'{"children":['.repeat(n)}{}${"]}".repeat(n)}}}`,
      names: ["tree"],
    }),
  ),
);

/** A reply without the empty lists and maps the gateway adds (reply-json.ts), to compare with ProtoJSON. */
function withoutEmptyCollections(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  if (desc.typeName.startsWith("google.protobuf.")) return json;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key);
    if (!field) {
      out[key] = v;
      continue;
    }
    if ((field.fieldKind === "list" || field.fieldKind === "map") && v && Object.keys(v).length === 0)
      continue;
    const nested = field.message;
    if (!nested) out[key] = v;
    else if (field.fieldKind === "list" && Array.isArray(v))
      out[key] = v.map((x) => withoutEmptyCollections(nested, x));
    else if (field.fieldKind === "map" && v && typeof v === "object" && !Array.isArray(v)) {
      out[key] = Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, withoutEmptyCollections(nested, x)]),
      );
    } else out[key] = withoutEmptyCollections(nested, v);
  }
  return out;
}

function textOf(result: JsonObject): string {
  return ((result.content ?? []) as JsonObject[]).map((c) => String(c.text)).join("\n");
}

function expectOutcome(call: Call, result: JsonObject): void {
  if (call.kind === "valid") {
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(withoutEmptyCollections(echoResponse, result.structuredContent ?? null)).toEqual(call.expected);
  } else {
    expect(result.isError, call.text.slice(0, 300)).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^Invalid arguments for tool "echo": /);
    expect(
      call.names.some((n) => text.includes(n)),
      `${text} should name one of ${call.names.join(", ")}`,
    ).toBe(true);
  }
}

describe("callTool (in process)", () => {
  let calls = 0;
  const transport = createRouterTransport(({ service }) => {
    service(EchoService, {
      echo: async (req) => {
        calls++;
        return create(EchoResponseSchema, { sink: req.sink });
      },
    });
  });
  const backend: BackendHandle = {
    name: "echo",
    transport,
    registry,
    timeoutMs: 5_000,
    validator: createArgumentValidator(registry),
  };
  const service = registry.getService("mcpengine.testing.v1.EchoService");
  if (!service) throw new Error("no EchoService");
  const [tool] = buildTools([{ backend: "echo", services: [service] }]);
  if (!tool) throw new Error("no echo tool");

  it("echoes valid arguments in their canonical form and refuses broken ones before the backend", async () => {
    await fc.assert(
      fc.asyncProperty(CALLS, async (call) => {
        const before = calls;
        const outcome = await callTool(tool, JSON.parse(call.text), backend);
        if (!("done" in outcome)) throw new Error("unexpected input request");
        expectOutcome(call, outcome.done as unknown as JsonObject);
        expect(calls - before).toBe(call.kind === "valid" ? 1 : 0);
      }),
      { ...params, numRuns: Math.min(RUNS, 150) },
    );
  });
});

describe("a real gateway over HTTP (2026-07-28)", () => {
  let echo: Awaited<ReturnType<typeof startConnectServer>>;
  let http: HttpListener;
  let id = 0;

  beforeAll(async () => {
    echo = await startConnectServer(EchoService, {
      echo: async (req) => create(EchoResponseSchema, { sink: req.sink }),
    });
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [
          {
            name: "echo",
            target: echo.url,
            descriptors: IMAGE_PATH,
            services: ["mcpengine.testing.v1.EchoService"],
          },
        ],
      }),
    );
    http = await (await createGateway(config)).listen();
  });

  afterAll(async () => {
    await http?.close();
    await echo?.close();
  });

  it("answers every tools/call with HTTP 200 and a tool result: the echo, or isError naming the field", async () => {
    await fc.assert(
      fc.asyncProperty(CALLS, async (call) => {
        const { headers } = statelessRequest(++id, "tools/call", { name: "echo" });
        const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":${call.text},"_meta":${JSON.stringify(STATELESS_META)}}}`;
        const res = await fetch(`${http.url}/mcp`, { method: "POST", headers, body });
        expect(res.status).toBe(200);
        const answer = (await res.json()) as { result?: JsonObject; error?: unknown };
        expect(answer.error).toBeUndefined();
        expectOutcome(call, answer.result ?? {});
      }),
      { ...params, numRuns: Math.min(RUNS, 40) },
    );
  });
});
