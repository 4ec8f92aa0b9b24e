import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { eventId, parseEventId, SseConnection, sseFrame } from "../../src/http/sse-connection.js";

/** Just enough of a ServerResponse to collect what a connection writes. */
function sink() {
  const listeners: (() => void)[] = [];
  const res = {
    text: "",
    headers: {} as Record<string, string>,
    writableEnded: false,
    destroyed: false,
    flushed: false,
    writableCorked: 0,
    /** Socket writes: one per write while not corked, one per uncork that had something gathered. */
    flushes: 0,
    gathered: false,
    cork() {
      res.writableCorked++;
    },
    uncork() {
      if (res.writableCorked === 0) return;
      res.writableCorked--;
      if (res.writableCorked === 0 && res.gathered) {
        res.flushes++;
        res.gathered = false;
      }
    },
    writeHead(_status: number, headers: Record<string, string>) {
      res.headers = headers;
      return res;
    },
    write(chunk: string) {
      res.text += chunk;
      if (res.writableCorked > 0) res.gathered = true;
      else res.flushes++;
      return true;
    },
    end(chunk?: string) {
      if (chunk) res.text += chunk;
      res.writableEnded = true;
    },
    flushHeaders() {
      res.flushed = true;
    },
    on(_event: string, listener: () => void) {
      listeners.push(listener);
      return res;
    },
    close() {
      res.destroyed = true;
      for (const l of listeners) l();
    },
  };
  return res;
}

describe("SSE connections", () => {
  it("sends the headers at once, primes with an id and the retry delay, then frames events", () => {
    const res = sink();
    const conn = new SseConnection(
      res as unknown as ServerResponse,
      { "mcp-session-id": "s" },
      {
        keepAliveMs: 0,
        prime: { id: eventId("7", 0), retryMs: 1_000 },
      },
      () => {},
    );
    expect(res.flushed).toBe(true);
    expect(res.headers).toMatchObject({ "content-type": "text/event-stream", "mcp-session-id": "s" });
    conn.write(sseFrame("7", 1, '{"n":1}'));
    conn.end(sseFrame("7", 2, '{"n":2}'));
    expect(res.text).toBe(
      'id: 7_0\nretry: 1000\ndata: \n\nid: 7_1\nevent: message\ndata: {"n":1}\n\nid: 7_2\nevent: message\ndata: {"n":2}\n\n',
    );
    expect(res.writableEnded).toBe(true);
  });

  it("gathers the events written in one tick into one socket write", async () => {
    const res = sink();
    const conn = new SseConnection(res as unknown as ServerResponse, {}, { keepAliveMs: 0 }, () => {});
    for (let n = 1; n <= 3; n++) conn.write(sseFrame("7", n, `{"n":${n}}`));
    expect(res.flushes).toBe(0);
    await new Promise((r) => process.nextTick(r));
    expect(res.flushes).toBe(1);
    expect(res.writableCorked).toBe(0);
    conn.write(sseFrame("7", 4, '{"n":4}'));
    await new Promise((r) => process.nextTick(r));
    expect(res.flushes).toBe(2);
    expect(res.text.match(/event: message/g)).toHaveLength(4);
  });

  it("drops writes after the client left and tells its owner once", () => {
    const res = sink();
    let closed = 0;
    const conn = new SseConnection(res as unknown as ServerResponse, {}, { keepAliveMs: 10 }, () => closed++);
    res.close();
    conn.write("id: x_1\ndata: late\n\n");
    expect(conn.open).toBe(false);
    expect(res.text).toBe("");
    expect(closed).toBe(1);
  });

  it("parses only its own id format", () => {
    expect(parseEventId("a.1_12")).toEqual({ stream: "a.1", seq: 12 });
    expect(parseEventId("g_0")).toEqual({ stream: "g", seq: 0 });
    for (const bad of ["", "_1", "x_", "x_-1", "x_1.5", "x_9007199254740993", "nounderscore"]) {
      expect(parseEventId(bad)).toBeUndefined();
    }
  });
});
