import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { readSse, type SseEvent } from "../../src/proxy/remote/sse-reader.js";
import { RemoteError } from "../../src/proxy/types.js";

/**
 * Properties of the proxy's SSE reader (HTML Living Standard §9.2
 * "Server-sent events", 9.2.5 "Parsing an event stream" and 9.2.6
 * "Interpreting an event stream"): events written by the standard's rules —
 * ids, event types, multi-line data, comments, retry fields, unknown fields,
 * CR / LF / CRLF line ends, a BOM — read back the same however the bytes are
 * cut (inside multi-byte characters, between CR and LF); any bytes at all read
 * as a plain implementation of the standard reads them; and the only error is
 * the documented one for an event over `maxEventSize`. Same seed and
 * `PROPERTY_RUNS` / `PROPERTY_SEED` conventions as edge-parsers.test.ts.
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

const encoder = new TextEncoder();

/** A response whose body is `chunks`, sent one by one. */
function body(chunks: readonly Uint8Array[]): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[i++];
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

/** Reads every event; the error, if the reader threw one. */
async function readAll(chunks: readonly Uint8Array[], maxEventSize?: number) {
  const events: SseEvent[] = [];
  try {
    for await (const e of readSse(body(chunks), maxEventSize === undefined ? {} : { maxEventSize }))
      events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

/** Cuts `bytes` at the given sizes, cycling through them (empty chunks included). */
function cut(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  if (sizes.length === 0) return [bytes];
  const out: Uint8Array[] = [];
  let at = 0;
  // Bounded: at least one byte goes out every other chunk (a size of 0 makes an empty chunk).
  for (let i = 0; at < bytes.length && i < 2 * bytes.length + 2; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

/** Chunk sizes: mostly small, so cuts fall inside characters and between CR and LF. */
const SIZES = fc.oneof(
  fc.constant([] as number[]),
  fc.constant([1]),
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 8 }),
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
);

/**
 * A plain reading of the standard, the oracle: split the decoded text into
 * lines at CRLF, LF or CR; a blank line dispatches the event if it has data
 * (a block without data dispatches nothing); a line left without its end
 * when the stream ends is dropped. The shape is readSse's: `id` is the id
 * field of that event's block, `retry` the last valid retry seen since the
 * previous event. `text` is what TextDecoder gives (one leading BOM removed).
 */
function reference(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop(); // the text after the last line end is not a line yet
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  let retry: number | undefined;
  for (const line of lines) {
    if (line === "") {
      if (data.length > 0) {
        out.push({
          ...(id !== undefined ? { id } : {}),
          ...(event ? { event } : {}),
          data: data.join("\n"),
          ...(retry !== undefined ? { retry } : {}),
        });
        retry = undefined;
      }
      id = undefined;
      event = undefined;
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) id = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) retry = Number.parseInt(value, 10);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Streams written by the standard's rules, with what they must read as.
// ---------------------------------------------------------------------------

/** Text without line ends: ASCII, a colon and spaces, 2-, 3- and 4-byte UTF-8, NUL, a BOM mid-text, "ï»¿". */
const PIECE = fc.constantFrom(
  "a",
  "Z",
  "0",
  ":",
  " ",
  "\t",
  "é",
  "✓",
  "😀",
  "\0",
  "\uFEFF",
  "ï»¿",
  "{}",
  '"',
);
const TEXT = fc.array(PIECE, { maxLength: 8 }).map((p) => p.join(""));
const NAME = fc.array(PIECE, { minLength: 1, maxLength: 6 }).map((p) => p.join(""));

interface Line {
  readonly text: string;
  /** A valid retry value this line sets, if any. */
  readonly retry?: number;
}

/** `field: value`, `field:value` when the value has no leading space, or `field` alone for an empty value. */
function fieldLine(field: string, value: string): fc.Arbitrary<string> {
  const forms = [`${field}: ${value}`];
  if (!value.startsWith(" ")) forms.push(`${field}:${value}`);
  if (value === "") forms.push(field);
  return fc.constantFrom(...forms);
}

/** Lines that change nothing: comments, unknown fields, invalid retry values. */
const NOISE: fc.Arbitrary<Line> = fc.oneof(
  TEXT.map((t) => ({ text: `:${t}` })),
  fc
    .tuple(fc.constantFrom("Data", "ID", "events", "retr", "foo", "data ", " data"), TEXT)
    .map(([f, v]) => ({ text: `${f}:${v}` })),
  fc
    .constantFrom("retry: 1.5", "retry: x", "retry:", "retry: -1", "retry:  5", "retry: 5 ")
    .map((text) => ({ text })),
);
const RETRY: fc.Arbitrary<Line> = fc
  .tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 2 }), fc.boolean())
  .map(([ms, zeros, space]) => ({ text: `retry:${space ? " " : ""}${"0".repeat(zeros)}${ms}`, retry: ms }));

/** One event's block: its lines in any order (data lines in order), noise between. */
const EVENT = fc
  .record({
    id: fc.option(
      TEXT.filter((t) => !t.includes("\0")),
      { nil: undefined },
    ),
    event: fc.option(NAME, { nil: undefined }),
    data: fc.array(TEXT, { minLength: 1, maxLength: 4 }),
    retry: fc.option(RETRY, { nil: undefined }),
    noise: fc.array(NOISE, { maxLength: 2 }),
    // A second id or event line: the last one counts.
    shadowed: fc.option(fc.constantFrom("id", "event"), { nil: undefined }),
  })
  .chain((e) => {
    const named = (field: string, value: string | undefined) =>
      value === undefined ? [] : [fieldLine(field, value)];
    const lines: fc.Arbitrary<Line>[] = [
      ...named("id", e.id).map((l) => l.map((text) => ({ text }))),
      ...named("event", e.event).map((l) => l.map((text) => ({ text }))),
      ...(e.retry ? [fc.constant(e.retry)] : []),
      ...e.noise.map((n) => fc.constant(n)),
    ];
    const data = fc.tuple(...e.data.map((d) => fieldLine("data", d).map((text) => ({ text }))));
    return fc
      .tuple(
        fc.tuple(...lines),
        data,
        fc.array(fc.nat(), { minLength: lines.length, maxLength: lines.length }),
      )
      .map(([others, dataLines, positions]) => {
        // Interleave the other lines among the data lines, keeping the data lines' order.
        const block: Line[] = [...dataLines];
        for (const [i, line] of others.entries())
          block.splice((positions[i] ?? 0) % (block.length + 1), 0, line);
        if (e.shadowed === "id") block.unshift({ text: "id: shadowed" });
        if (e.shadowed === "event") block.unshift({ text: "event: shadowed" });
        const expected: SseEvent = {
          ...(e.id !== undefined ? { id: e.id } : e.shadowed === "id" ? { id: "shadowed" } : {}),
          ...(e.event !== undefined
            ? { event: e.event }
            : e.shadowed === "event"
              ? { event: "shadowed" }
              : {}),
          data: e.data.join("\n"),
        };
        return { block, expected };
      });
  });

/** A block that dispatches nothing: no data line (comments, an event type, a retry). */
const EMPTY_BLOCK: fc.Arbitrary<{ block: Line[]; expected: undefined }> = fc
  .array(
    fc.oneof(
      NOISE,
      RETRY,
      NAME.map((n) => ({ text: `event: ${n}` })),
    ),
    { maxLength: 3 },
  )
  .map((block) => ({ block, expected: undefined }));

/** A whole stream: events and empty blocks, line ends, a BOM, an unfinished tail. */
const STREAM = fc
  .record({
    blocks: fc.array(fc.oneof({ arbitrary: EVENT, weight: 4 }, EMPTY_BLOCK), { maxLength: 6 }),
    ends: fc.array(fc.constantFrom("\n", "\r", "\r\n"), { minLength: 1, maxLength: 5 }),
    bom: fc.boolean(),
    tail: fc.oneof(
      fc.constant(""),
      TEXT.map((t) => `data: ${t}`),
      TEXT.map((t) => `data: ${t}\n`),
      TEXT.map((t) => `data: ${t}\r`),
    ),
  })
  .map(({ blocks, ends, bom, tail }) => {
    let text = bom ? "\uFEFF" : "";
    const expected: SseEvent[] = [];
    let retry: number | undefined;
    let previousEnd = "";
    let n = 0;
    const line = (content: string) => {
      let end = ends[n++ % ends.length] ?? "\n";
      // A CR then an LF is one line end: a blank line after a CR must not start with LF.
      if (content === "" && previousEnd === "\r" && end === "\n") end = "\r";
      text += content + end;
      previousEnd = end;
    };
    let longest = tail.length + 1;
    for (const { block, expected: event } of blocks) {
      const start = text.length;
      for (const l of block) {
        line(l.text);
        if (l.retry !== undefined) retry = l.retry;
      }
      line("");
      longest = Math.max(longest, text.length - start);
      if (event) {
        expected.push({ ...event, ...(retry !== undefined ? { retry } : {}) });
        retry = undefined;
      }
    }
    // The text up to the last blank line, and with an unfinished event after it.
    return { complete: text, text: text + tail, expected, longest };
  });

describe("readSse (proxy), HTML §9.2 server-sent events", () => {
  it("reads back the events a server wrote, however the bytes are cut", async () => {
    await fc.assert(
      fc.asyncProperty(STREAM, SIZES, async ({ text, expected }, sizes) => {
        // The oracle agrees with the model first, so neither is checked against itself.
        expect(reference(new TextDecoder().decode(encoder.encode(text)))).toEqual(expected);
        const got = await readAll(cut(encoder.encode(text), sizes));
        expect(got.error).toBeUndefined();
        expect(got.events).toEqual(expected);
      }),
      params,
    );
  });

  /** Bytes that make SSE: field names, colons, line ends, BOMs, whole and broken UTF-8. */
  const TOKENS = fc.constantFrom(
    ...[
      "data",
      "data:",
      "id:",
      "event:",
      "retry:",
      "retry: 42",
      ":",
      " ",
      "x",
      "0",
      "\r",
      "\n",
      "\r\n",
      "é",
      "😀",
      "ï»¿",
      // Whole lines too, so that events form often.
      "data: é\n",
      "data\r",
      "id: 1\r\n",
      "event: e\n",
      "retry: 7\n",
      ": c\r",
      "\n\n",
      "\r\r",
    ].map((s) => encoder.encode(s)),
    Uint8Array.of(0xef, 0xbb, 0xbf),
    Uint8Array.of(0xe2, 0x9c),
    Uint8Array.of(0xf0, 0x9f),
    Uint8Array.of(0xff),
    Uint8Array.of(0x00),
  );
  const BYTES = fc.oneof(
    fc.array(TOKENS, { maxLength: 40 }).map((parts) => Uint8Array.from(parts.flatMap((p) => [...p]))),
    fc.uint8Array({ maxLength: 200 }),
  );

  it("reads any bytes as the standard does, however they are cut, and never throws", async () => {
    await fc.assert(
      fc.asyncProperty(BYTES, SIZES, async (bytes, sizes) => {
        const got = await readAll(cut(bytes, sizes));
        expect(got.error).toBeUndefined();
        expect(got.events).toEqual(reference(new TextDecoder().decode(bytes)));
      }),
      params,
    );
  });

  it("fails only with the documented error, and only past maxEventSize; never yields a larger event", async () => {
    await fc.assert(
      fc.asyncProperty(BYTES, SIZES, fc.integer({ min: 1, max: 48 }), async (bytes, sizes, max) => {
        const got = await readAll(cut(bytes, sizes), max);
        const all = reference(new TextDecoder().decode(bytes));
        for (const e of got.events) expect(e.data.length).toBeLessThanOrEqual(max);
        if (got.error === undefined) {
          expect(got.events).toEqual(all);
        } else {
          expect(got.error).toBeInstanceOf(RemoteError);
          expect((got.error as Error).message).toBe(`an SSE event exceeds ${max} characters`);
          // What came before the failure came in order and whole.
          expect(got.events).toEqual(all.slice(0, got.events.length));
        }
      }),
      params,
    );
  });

  it("reads events whose blocks fit in maxEventSize, and fails at the first event over it, however cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        STREAM,
        SIZES,
        fc.integer({ min: 1, max: 40 }),
        async ({ text, complete, expected, longest }, sizes, extra) => {
          // A limit every block fits in (a block's data and any one line are at most its text).
          const max = longest + 1;
          const fits = await readAll(cut(encoder.encode(text), sizes), max);
          expect(fits.error).toBeUndefined();
          expect(fits.events).toEqual(expected);
          // The same events, then one over the limit: those before it are read, then the stream fails.
          const over = `${complete}data: ${"x".repeat(max + extra)}\n\ndata: after\n\n`;
          const failed = await readAll(cut(encoder.encode(over), sizes), max);
          expect(failed.error).toBeInstanceOf(RemoteError);
          expect(failed.events).toEqual(expected);
        },
      ),
      params,
    );
  });
});
