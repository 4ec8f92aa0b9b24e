import { describe, expect, it } from "vitest";
import type { PostRoute } from "../../src/http/classify.js";
import { countedRequest } from "../../src/http/request-gate.js";
import {
  createRequestLimiter,
  type LimitAdmission,
  type LimitTicket,
  type RequestLimiter,
  type RequestLimits,
} from "../../src/http/request-limits.js";

/** A limiter on a clock the test moves by hand (milliseconds). */
function limiter(limits: RequestLimits, maxEntries?: number): { l: RequestLimiter; clock: { now: number } } {
  const clock = { now: 0 };
  const l = createRequestLimiter(limits, { now: () => clock.now, ...(maxEntries ? { maxEntries } : {}) });
  if (!l) throw new Error("expected a limiter");
  return { l, clock };
}

function admitted(a: LimitAdmission): LimitTicket {
  if (!a.ok) throw new Error(`refused: ${a.message}`);
  return a;
}

describe("a request limiter", () => {
  it("is not made when the limits bound nothing, so a gateway without limits skips it", () => {
    expect(createRequestLimiter({})).toBeUndefined();
    expect(createRequestLimiter({ perCaller: {}, perSession: {} })).toBeUndefined();
  });

  it.each([
    [{ perCaller: { maxConcurrent: 0 } }, "perCaller.maxConcurrent"],
    [{ perCaller: { maxConcurrent: 1.5 } }, "perCaller.maxConcurrent"],
    [{ perSession: { rate: { perSecond: 0, burst: 1 } } }, "perSession.rate.perSecond"],
    [{ perSession: { rate: { perSecond: Number.NaN, burst: 1 } } }, "perSession.rate.perSecond"],
    [{ perCaller: { rate: { perSecond: 1, burst: 0 } } }, "perCaller.rate.burst"],
  ] as const)("refuses limits out of range (%j names %s)", (limits, path) => {
    expect(() => createRequestLimiter(limits)).toThrow(path);
  });

  it("refuses a request past the burst with the rate limit's name and when to retry, and admits it after the refill", () => {
    const { l, clock } = limiter({ perCaller: { rate: { perSecond: 5, burst: 2 } } });
    admitted(l.admit("sub:alice")).release();
    admitted(l.admit("sub:alice")).release();
    expect(l.admit("sub:alice")).toEqual({
      ok: false,
      which: "rate",
      scope: "caller",
      retryAfterSeconds: 1,
      message: "rate limit of 5 requests/s per caller exceeded; retry after 1s",
    });
    clock.now += 100; // half a token
    expect(l.admit("sub:alice").ok).toBe(false);
    clock.now += 100; // one token
    admitted(l.admit("sub:alice")).release();
    expect(l.admit("sub:alice").ok).toBe(false);
  });

  it("says to retry after the whole seconds until the next token, at least one", () => {
    const { l, clock } = limiter({ perCaller: { rate: { perSecond: 0.25, burst: 1 } } });
    admitted(l.admit("a"));
    const refused = l.admit("a");
    expect(refused).toMatchObject({ which: "rate", retryAfterSeconds: 4 });
    clock.now += 1_500;
    expect(l.admit("a")).toMatchObject({ retryAfterSeconds: 3 });
    clock.now += 2_499;
    expect(l.admit("a")).toMatchObject({ retryAfterSeconds: 1 });
    clock.now += 10;
    expect(l.admit("a").ok).toBe(true);
  });

  it("refuses a request past the concurrency limit until one running ends", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 2 } });
    const first = admitted(l.admit("addr:10.0.0.1"));
    admitted(l.admit("addr:10.0.0.1"));
    expect(l.admit("addr:10.0.0.1")).toEqual({
      ok: false,
      which: "concurrent",
      scope: "caller",
      retryAfterSeconds: 1,
      message: "concurrency limit of 2 running requests per caller exceeded; retry after 1s",
    });
    first.release();
    admitted(l.admit("addr:10.0.0.1"));
    expect(l.admit("addr:10.0.0.1").ok).toBe(false);
  });

  it("frees a slot once however often a ticket is released", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 2 } });
    const first = admitted(l.admit("a"));
    admitted(l.admit("a"));
    first.release();
    first.release();
    admitted(l.admit("a"));
    expect(l.admit("a").ok).toBe(false);
  });

  it("keeps callers apart", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 1, rate: { perSecond: 1, burst: 1 } } });
    admitted(l.admit("sub:alice"));
    expect(l.admit("sub:alice").ok).toBe(false);
    admitted(l.admit("sub:bob"));
    expect(l.admit("sub:bob").ok).toBe(false);
  });

  it("limits each session of a caller on its own, and requests without a session not at all", () => {
    const { l } = limiter({ perSession: { rate: { perSecond: 1, burst: 1 } } });
    admitted(l.admit("sub:alice", "s1"));
    expect(l.admit("sub:alice", "s1")).toMatchObject({ ok: false, which: "rate", scope: "session" });
    admitted(l.admit("sub:alice", "s2"));
    for (let i = 0; i < 5; i++) admitted(l.admit("sub:alice"));
    expect(l.size("session")).toBe(2);
  });

  it("does not let another caller naming a session use up that session's budget", () => {
    const { l } = limiter({ perSession: { rate: { perSecond: 1, burst: 1 } } });
    admitted(l.admit("sub:mallory", "s1"));
    admitted(l.admit("sub:alice", "s1"));
  });

  it("counts a refused request against neither scope", () => {
    const { l } = limiter({
      perCaller: { rate: { perSecond: 1, burst: 2 } },
      perSession: { maxConcurrent: 1 },
    });
    admitted(l.admit("a", "s1"));
    // Refused by the session: the caller keeps its second token.
    expect(l.admit("a", "s1")).toMatchObject({ ok: false, which: "concurrent", scope: "session" });
    admitted(l.admit("a", "s2"));
    // Refused by the caller (no token left): session s3 was not counted, so it has no entry.
    expect(l.admit("a", "s3")).toMatchObject({ ok: false, which: "rate", scope: "caller" });
    expect(l.size("session")).toBe(2);
  });

  it("reports the caller's limit when both are exceeded", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 1 }, perSession: { maxConcurrent: 1 } });
    admitted(l.admit("a", "s1"));
    expect(l.admit("a", "s1")).toMatchObject({ scope: "caller" });
  });
});

describe("the memory of a request limiter", () => {
  it("keeps no entry for a caller with nothing running under a concurrency limit alone", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 4 } });
    for (let i = 0; i < 1_000; i++) admitted(l.admit(`addr:${i}`)).release();
    expect(l.size("caller")).toBe(0);
  });

  it("drops callers whose bucket refilled as new ones arrive", () => {
    const { l, clock } = limiter({ perCaller: { rate: { perSecond: 10, burst: 5 } } });
    for (let i = 0; i < 1_000; i++) admitted(l.admit(`old:${i}`)).release();
    expect(l.size("caller")).toBe(1_000);
    clock.now += 1_000;
    for (let i = 0; i < 600; i++) admitted(l.admit(`new:${i}`)).release();
    // Each new key drops up to two refilled old ones.
    expect(l.size("caller")).toBe(600);
  });

  it("sweeps past a caller whose call outlasts the others", () => {
    const { l, clock } = limiter({ perCaller: { rate: { perSecond: 10, burst: 5 } } });
    const long = admitted(l.admit("sub:long"));
    for (let i = 0; i < 1_000; i++) admitted(l.admit(`old:${i}`)).release();
    clock.now += 1_000;
    for (let i = 0; i < 600; i++) admitted(l.admit(`new:${i}`)).release();
    expect(l.size("caller")).toBe(601);
    long.release();
  });

  it("stays within its bound under a flood of distinct keys", () => {
    const { l } = limiter({ perCaller: { rate: { perSecond: 1, burst: 3 } } }, 1_000);
    for (let i = 0; i < 100_000; i++) admitted(l.admit(`addr:${i}`)).release();
    expect(l.size("caller")).toBe(1_000);
  });

  it("evicts idle callers before running ones, so a flood does not lift a busy caller's limit", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 1, rate: { perSecond: 1, burst: 1 } } }, 12);
    // Busy callers filling most of the table: more than the sweep moves aside per new key stay the oldest.
    const names = Array.from({ length: 10 }, (_, i) => `sub:busy-${i}`);
    const busy = names.map((name) => admitted(l.admit(name)));
    for (let i = 0; i < 1_000; i++) admitted(l.admit(`addr:${i}`)).release();
    expect(l.size("caller")).toBe(12);
    for (const name of names) expect(l.admit(name)).toMatchObject({ ok: false, which: "concurrent" });
    for (const ticket of busy) ticket.release();
  });

  it("still bounds its entries when every one is running, forgetting some", () => {
    const { l } = limiter({ perCaller: { maxConcurrent: 1 } }, 50);
    for (let i = 0; i < 200; i++) admitted(l.admit(`addr:${i}`));
    expect(l.size("caller")).toBe(50);
    // The newest is remembered; of the rest, 150 were forgotten and are admitted again.
    expect(l.admit("addr:199").ok).toBe(false);
    let again = 0;
    for (let i = 0; i < 199; i++) if (l.admit(`addr:${i}`).ok) again++;
    expect(again).toBeGreaterThanOrEqual(150);
    expect(l.size("caller")).toBe(50);
  });
});

describe("what request limits count", () => {
  const request = { jsonrpc: "2.0", id: 1, method: "tools/list" } as const;
  const session = (kind: "request" | "notification" | "response") =>
    ({
      kind: "session",
      sessionId: "s",
      headerVersion: undefined,
      message:
        kind === "response"
          ? { kind, message: { jsonrpc: "2.0", id: 1, result: {} } }
          : kind === "request"
            ? { kind, message: request }
            : { kind, message: { jsonrpc: "2.0", method: "notifications/initialized" } },
    }) as PostRoute;
  it.each([
    [
      "a 2026-07-28 request",
      { kind: "stateless", request, clientCapabilities: {}, logLevel: undefined },
      true,
    ],
    ["initialize", { kind: "initialize", request: { ...request, method: "initialize" } }, true],
    ["a request of a session", session("request"), true],
    ["a notification of a session", session("notification"), false],
    ["a client's response in a session", session("response"), false],
    ["a notification or response without a session", { kind: "accepted" }, false],
    [
      "a POST refused by the router",
      {
        kind: "reject",
        status: 400,
        response: { jsonrpc: "2.0", id: null, error: { code: 1, message: "" } },
      },
      false,
    ],
  ] as const)("%s: %s", (_, route, counted) => {
    expect(countedRequest(route as PostRoute)).toBe(counted);
  });
});
