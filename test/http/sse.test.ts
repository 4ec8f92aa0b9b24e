import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { EventStream, ReplayBudget } from "../../src/http/sse.js";

/** Just enough of a ServerResponse to collect what a stream writes. */
function sink() {
  const res = {
    text: "",
    writableEnded: false,
    writeHead() {
      return res;
    },
    write(chunk: string) {
      res.text += chunk;
      return true;
    },
    end() {
      res.writableEnded = true;
    },
    flushed: false,
    flushHeaders() {
      res.flushed = true;
    },
    on() {
      return res;
    },
  };
  return res;
}

const ids = (text: string) => [...text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);

describe("resumable event streams", () => {
  const options = { maxBuffered: 1_000, keepAliveMs: 0, retryMs: 1_000, prime: true };

  it("primes, numbers events, and replays only what follows Last-Event-ID", () => {
    const stream = new EventStream("7", options);
    const first = sink();
    stream.attach(first as unknown as ServerResponse);
    for (const n of [1, 2, 3]) stream.send({ n });
    expect(ids(first.text)).toEqual(["7_1", "7_2", "7_3", "7_4"]);
    expect(first.text).toContain("retry: 1000");
    const again = sink();
    stream.attach(again as unknown as ServerResponse, {}, EventStream.parseEventId("7_2")?.seq);
    expect(ids(again.text)).toEqual(["7_3", "7_4"]);
    expect(again.text).not.toContain("retry:");
  });

  it("keeps at most the configured events and bytes for replay", () => {
    const byCount = new EventStream("a", { ...options, maxBuffered: 2 });
    for (const n of [1, 2, 3, 4]) byCount.send({ n });
    const r1 = sink();
    byCount.attach(r1 as unknown as ServerResponse, {}, 0);
    expect(ids(r1.text)).toEqual(["a_3", "a_4"]);

    const byBytes = new EventStream("b", { ...options, maxBufferedBytes: 300 });
    for (const n of [1, 2, 3]) byBytes.send({ pad: "x".repeat(200), n });
    const r2 = sink();
    byBytes.attach(r2 as unknown as ServerResponse, {}, 0);
    expect(ids(r2.text)).toEqual(["b_3"]);
  });

  it("ends a reattached connection at once when the stream is done", () => {
    const stream = new EventStream("c", options);
    stream.send({ n: 1 });
    stream.end();
    const late = sink();
    stream.attach(late as unknown as ServerResponse, {}, 0);
    expect(ids(late.text)).toEqual(["c_1"]);
    expect(late.writableEnded).toBe(true);
  });

  it("parses only its own id format", () => {
    expect(EventStream.parseEventId("12_34")).toEqual({ stream: "12", seq: 34 });
    expect(EventStream.parseEventId("nope")).toBeUndefined();
    expect(EventStream.parseEventId("_3")).toBeUndefined();
  });
});

describe("replay memory", () => {
  const base = { maxBuffered: 1_000, keepAliveMs: 0, retryMs: 1_000, prime: false };
  const big = (n: number) => ({
    jsonrpc: "2.0",
    method: "notifications/message",
    params: { data: "x".repeat(n) },
  });
  const replayAfter = (stream: EventStream, seq: number) => {
    const res = sink();
    stream.attach(res as unknown as ServerResponse, {}, seq);
    return ids(res.text);
  };

  it("does not keep an event larger than the stream's bound, the last one included", () => {
    const stream = new EventStream("1", { ...base, maxBufferedBytes: 10_000 });
    stream.send(big(100));
    stream.send(big(50_000));
    expect(stream.keptBytes).toBe(0);
    expect(replayAfter(stream, 0)).toEqual([]);
  });

  it("bounds a session's streams together, finished streams without a connection going first", () => {
    const session = new ReplayBudget(30_000);
    const first = new EventStream("1", { ...base, budgets: [session] });
    first.send(big(20_000));
    first.end();
    const second = new EventStream("2", { ...base, budgets: [session] });
    second.send(big(5_000));
    second.send(big(20_000));
    expect(first.keptBytes).toBe(0);
    expect(second.keptBytes).toBeGreaterThan(25_000);
    expect(session.used).toBe(second.keptBytes);
    expect(session.used).toBeLessThanOrEqual(30_000);
  });

  it("bounds all sessions together by dropping the oldest events of live streams last", () => {
    const global = new ReplayBudget(12_000);
    const a = new EventStream("a", { ...base, budgets: [global] });
    const b = new EventStream("b", { ...base, budgets: [global] });
    a.send(big(5_000));
    b.send(big(5_000));
    a.send(big(5_000));
    expect(global.used).toBeLessThanOrEqual(12_000);
    expect(global.used).toBe(a.keptBytes + b.keptBytes);
    // a is the oldest stream: its first event went; b and a's newest remain.
    expect(replayAfter(a, 0)).toEqual(["a_2"]);
    expect(replayAfter(b, 0)).toEqual(["b_1"]);
    a.release();
    expect(global.used).toBe(b.keptBytes);
  });
});

describe("resuming a stream", () => {
  const options = { maxBuffered: 1_000, keepAliveMs: 0, retryMs: 1_000, prime: true };

  it("ends the earlier connection when a client resumes while it is still open", () => {
    const stream = new EventStream("1", options);
    const original = sink();
    stream.attach(original as unknown as ServerResponse);
    stream.send({ jsonrpc: "2.0", method: "notifications/progress", params: {} });
    const resumed = sink();
    stream.attach(resumed as unknown as ServerResponse, {}, 1);
    expect(original.writableEnded).toBe(true);
    stream.send({ jsonrpc: "2.0", id: 1, result: {} });
    expect(ids(resumed.text)).toEqual(["1_2", "1_3"]);
    expect(ids(original.text)).toEqual(["1_1", "1_2"]);
  });

  it("sends the headers at once when there is nothing to replay", () => {
    const stream = new EventStream("1", options);
    stream.attach(sink() as unknown as ServerResponse);
    const resumed = sink();
    stream.attach(resumed as unknown as ServerResponse, {}, 1);
    expect(resumed.text).toBe("");
    expect(resumed.flushed).toBe(true);
  });
});
