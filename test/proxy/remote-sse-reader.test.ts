import { describe, expect, it } from "vitest";
import { delayMs } from "../../src/proxy/remote/resumable-stream.js";
import { MAX_EVENT_SIZE, readSse, type SseEvent } from "../../src/proxy/remote/sse-reader.js";
import { RemoteError } from "../../src/proxy/types.js";

/** A response whose body is `chunks`, sent one by one; `onCancel` sees the body cancelled. */
function body(chunks: Iterable<Uint8Array | string>, onCancel?: () => void): Response {
  const encoder = new TextEncoder();
  const it = chunks[Symbol.iterator]();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = it.next();
      if (next.done) controller.close();
      else controller.enqueue(typeof next.value === "string" ? encoder.encode(next.value) : next.value);
    },
    cancel: () => onCancel?.(),
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

async function all(res: Response, maxEventSize?: number): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(res, maxEventSize === undefined ? {} : { maxEventSize })) out.push(e);
  return out;
}

const TEXT =
  'id: 1_0\nretry: 250\ndata: \n\n: keep-alive\n\nevent: message\nid: 1_1\ndata: {"text":"héllo ✓"}\n\n' +
  "event: endpoint\ndata: /messages?sessionId=x\n\ndata: line one\ndata: line two\n\nid: 1_9\ndata: unfinished";
const EXPECTED: SseEvent[] = [
  { id: "1_0", data: "", retry: 250 },
  { id: "1_1", event: "message", data: '{"text":"héllo ✓"}' },
  { event: "endpoint", data: "/messages?sessionId=x" },
  { data: "line one\nline two" },
];

describe("readSse", () => {
  const bytes = new TextEncoder().encode(TEXT);
  it.each([
    { split: "in one chunk", chunks: [bytes] },
    {
      split: "byte by byte (inside multi-byte characters too)",
      chunks: [...bytes].map((b) => Uint8Array.of(b)),
    },
    {
      split: "in chunks of 7 bytes",
      chunks: Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.slice(i * 7, i * 7 + 7)),
    },
  ])(
    "yields id, event, data and retry of each event, read $split, and drops an unfinished last event",
    async ({ chunks }) => {
      expect(await all(body(chunks))).toEqual(EXPECTED);
    },
  );

  it("delivers the events before an oversized one, then fails the stream", async () => {
    const res = body(["data: small\n\n", `data: ${"x".repeat(200)}`, "\n\ndata: after\n\n"]);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of readSse(res, { maxEventSize: 100 })) seen.push(e.data);
    })();
    await expect(reading).rejects.toThrow(RemoteError);
    await expect(reading).rejects.toThrow(/exceeds 100 characters/);
    expect(seen).toEqual(["small"]);
  });

  it("fails an event over 16 MiB by default and accepts one just under it", async () => {
    const mib = "y".repeat(1024 * 1024);
    const chunks = (n: number) => ["data: ", ...Array.from({ length: n }, () => mib), "\n\n"];
    await expect(all(body(chunks(17)))).rejects.toThrow(`exceeds ${MAX_EVENT_SIZE} characters`);
    const under = await all(body([...chunks(15), "data: next\n\n"]));
    expect(under.map((e) => e.data.length)).toEqual([15 * mib.length, 4]);
  });

  it("reads an event ended by CR CR at the end of the stream (CR alone ends a line)", async () => {
    expect(await all(body(["id: 7\rdata: last\r\r"]))).toEqual([{ id: "7", data: "last" }]);
    expect(await all(body(["data: a\r", "\r", "data: b\r\n", "\r\n"]))).toEqual([
      { data: "a" },
      { data: "b" },
    ]);
  });

  it("yields an event ended by CR CR at the end of a chunk without waiting for more bytes", async () => {
    const encoder = new TextEncoder();
    // The first chunk, then nothing more for as long as the test runs.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("data: now\r\r"));
      },
    });
    const events = readSse(new Response(stream));
    const next = await Promise.race([
      events.next(),
      new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), 1_000)),
    ]);
    expect(next).toEqual({ done: false, value: { data: "now" } });
    await events.return(undefined);
  });

  it("fails an event over maxEventSize that arrives within one chunk, as one cut across chunks", async () => {
    const text = `data: small\n\ndata: ${"x".repeat(200)}\n\ndata: after\n\n`;
    for (const chunks of [[text], [...text]]) {
      const seen: string[] = [];
      const reading = (async () => {
        for await (const e of readSse(body(chunks), { maxEventSize: 100 })) seen.push(e.data);
      })();
      await expect(reading).rejects.toThrow("an SSE event exceeds 100 characters");
      expect(seen).toEqual(["small"]);
    }
  });

  it('takes only a real BOM for one: text that starts with "ï»¿" is a field name', async () => {
    expect(await all(body(["\u00ef\u00bb\u00bfdata: x\n\ndata: y\n\n"]))).toEqual([{ data: "y" }]);
    expect(await all(body([Uint8Array.of(0xef, 0xbb, 0xbf), "data: x\n\n"]))).toEqual([{ data: "x" }]);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const res = body(["data: one\n\n", "data: two\n\n", "data: three\n\n"], () => {
      cancelled = true;
    });
    for await (const e of readSse(res)) {
      expect(e.data).toBe("one");
      break;
    }
    expect(cancelled).toBe(true);
  });
});

describe("the reconnection delay", () => {
  const policy = { maxAttempts: 5, initialDelayMs: 1_000, growFactor: 2, maxDelayMs: 5_000 };
  it.each([
    { attempt: 1, retry: undefined, ms: 1_000 },
    { attempt: 2, retry: undefined, ms: 2_000 },
    { attempt: 3, retry: undefined, ms: 4_000 },
    { attempt: 4, retry: undefined, ms: 5_000 },
    { attempt: 1, retry: 100, ms: 100 },
    { attempt: 3, retry: 100, ms: 400 },
    { attempt: 1, retry: 60_000, ms: 5_000 },
  ])("waits $ms ms before attempt $attempt when the server's retry is $retry", ({ attempt, retry, ms }) => {
    expect(delayMs(policy, attempt, retry)).toBe(ms);
  });
});
