import { create, type DescMethodStreaming, type DescMethodUnary } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  GetHTTPItemResponseSchema,
  InventoryService,
  TailItemResponseSchema,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { createH2GrpcTransport, withRetries } from "../../src/invoke/index.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const { getHTTPItem, deleteItem, auditItem, tailItem } = InventoryService.method;
/** TailItem as if it were marked NO_SIDE_EFFECTS (the test proto leaves it unmarked). */
const idempotentTail = {
  ...tailItem,
  idempotency: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
} as typeof tailItem;

const unavailable = () => new ConnectError('the connection to backend "b" failed: reset', Code.Unavailable);

/** What one attempt of a fake backend does: answer, fail, or (streams) send `sent` messages and then `end`. */
type Attempt = "ok" | ConnectError | { sent: number; end: ConnectError | "end" };

/** A transport that plays `attempts` in order and records each attempt's deadline. */
function fake(attempts: Attempt[]) {
  const deadlines: (number | undefined)[] = [];
  const next = (): Attempt => attempts.shift() ?? "ok";
  const transport = {
    async unary(method: DescMethodUnary, _signal: AbortSignal | undefined, timeoutMs: number | undefined) {
      deadlines.push(timeoutMs);
      const a = next();
      if (a instanceof ConnectError) throw a;
      return {
        stream: false,
        service: method.parent,
        method,
        header: new Headers(),
        trailer: new Headers(),
        message: create(GetHTTPItemResponseSchema, { item: { sku: "A" } }),
      } as unknown as UnaryResponse;
    },
    async stream(
      method: DescMethodStreaming,
      _signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      _header: unknown,
      input: AsyncIterable<unknown>,
    ) {
      deadlines.push(timeoutMs);
      for await (const _ of input) break;
      const a = next();
      const plan =
        a === "ok" ? { sent: 3, end: "end" as const } : a instanceof ConnectError ? { sent: 0, end: a } : a;
      async function* messages() {
        for (let i = 0; i < plan.sent; i++) yield create(TailItemResponseSchema, { item: { sku: `S-${i}` } });
        if (plan.end !== "end") throw plan.end;
      }
      return {
        stream: true,
        service: method.parent,
        method,
        header: new Headers(),
        trailer: new Headers(),
        message: messages(),
      } as unknown as StreamResponse;
    },
  } as unknown as Transport;
  return { transport, deadlines };
}

async function error(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectError);
  return e as ConnectError;
}

async function drain(res: Promise<StreamResponse>): Promise<string[]> {
  const skus: string[] = [];
  for await (const m of (await res).message) skus.push((m as { item?: { sku: string } }).item?.sku ?? "");
  return skus;
}

async function* one<T>(v: T): AsyncIterable<T> {
  yield v;
}

const fast = { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 };

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("retries of idempotent calls", () => {
  it("sends a NO_SIDE_EFFECTS call again after UNAVAILABLE, and returns the answer", async () => {
    const f = fake([unavailable(), unavailable(), "ok"]);
    const res = await withRetries(f.transport, fast).unary(getHTTPItem, undefined, 5_000, undefined, {
      sku: "A",
    });
    expect(res.message.item?.sku).toBe("A");
    expect(f.deadlines).toHaveLength(3);
  });

  it("stops at max_attempts and says how many attempts were made", async () => {
    const f = fake([unavailable(), unavailable(), unavailable(), unavailable()]);
    const err = await error(
      withRetries(f.transport, fast).unary(deleteItem, undefined, 5_000, undefined, {}),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('the connection to backend "b" failed: reset (3 attempts)');
    expect(f.deadlines).toHaveLength(3);
  });

  it.each([
    ["NO_SIDE_EFFECTS", getHTTPItem, 2],
    ["IDEMPOTENT", deleteItem, 2],
    ["no idempotency_level", auditItem, 1],
  ] as const)(
    "a %s method is attempted %i time(s) when the first attempt is UNAVAILABLE",
    async (_, method, n) => {
      const f = fake([unavailable(), "ok"]);
      await withRetries(f.transport, fast)
        .unary(method as DescMethodUnary, undefined, 5_000, undefined, {})
        .catch(() => {});
      expect(f.deadlines).toHaveLength(n);
    },
  );

  it.each([
    Code.Internal,
    Code.Unknown,
    Code.DeadlineExceeded,
    Code.ResourceExhausted,
    Code.Canceled,
    Code.FailedPrecondition,
  ])("does not retry status %s, only UNAVAILABLE", async (code) => {
    const f = fake([new ConnectError("no", code), "ok"]);
    const err = await error(
      withRetries(f.transport, fast).unary(getHTTPItem, undefined, 5_000, undefined, {}),
    );
    expect(err.code).toBe(code);
    expect(err.rawMessage).toBe("no");
    expect(f.deadlines).toHaveLength(1);
  });

  it("gives each attempt the time left of the call's deadline, and does not start one past it", async () => {
    // A fake clock: the figures are exact however loaded the machine is.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    vi.spyOn(Math, "random").mockReturnValue(1); // each backoff waits its whole cap: 100 ms, then 200 ms
    const f = fake([unavailable(), unavailable(), unavailable()]);
    const t = withRetries(f.transport, { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1_000 });
    const pending = error(t.unary(getHTTPItem, undefined, 300, undefined, {}));
    await vi.advanceTimersByTimeAsync(1_000);
    const err = await pending;
    // Attempt 2 starts after 100 ms with 200 ms left; a 200 ms backoff would leave nothing for a third.
    expect(f.deadlines).toEqual([300, 200]);
    expect(err.rawMessage).toMatch(/\(2 attempts\)$/);
  });

  it("waits a random part of a cap that doubles each time (full jitter)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const waits: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      waits.push(ms ?? 0);
      return real(fn, 0);
    }) as typeof setTimeout);
    const f = fake([unavailable(), unavailable(), unavailable(), unavailable(), unavailable()]);
    const t = withRetries(f.transport, { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 300 });
    await error(t.unary(getHTTPItem, undefined, undefined, undefined, {}));
    expect(waits).toEqual([50, 100, 150, 150]);
  });

  it("ends at once with CANCELLED when the call is cancelled during a backoff", async () => {
    const f = fake([unavailable(), "ok"]);
    const abort = new AbortController();
    const t = withRetries(f.transport, { maxAttempts: 3, initialBackoffMs: 10_000, maxBackoffMs: 10_000 });
    vi.spyOn(Math, "random").mockReturnValue(1);
    const pending = error(t.unary(getHTTPItem, abort.signal, undefined, undefined, {}));
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    const err = await pending;
    expect(err.code).toBe(Code.Canceled);
    expect(f.deadlines).toHaveLength(1);
  });

  it("is the transport itself with max_attempts 1", () => {
    const f = fake([]);
    expect(withRetries(f.transport, { maxAttempts: 1 })).toBe(f.transport);
  });

  it("does not retry a call refused because the backend is known down, so that it fails at once", async () => {
    const proxy = await startTcpProxy("http://127.0.0.1:1", "reset");
    const h2 = createH2GrpcTransport({ baseUrl: proxy.url, name: "down", connections: { downMs: 60_000 } });
    try {
      const t = withRetries(h2, fast);
      // The first call connects and fails; its retry finds the backend down and stops there.
      const first = await error(t.unary(getHTTPItem, undefined, 5_000, undefined, { sku: "A" }));
      expect(first.rawMessage).toMatch(/^backend "down" is down \(last error: .*\) \(2 attempts\)$/);
      const started = Date.now();
      const next = await error(t.unary(getHTTPItem, undefined, 5_000, undefined, { sku: "A" }));
      expect(next.rawMessage).toMatch(
        /^backend "down" is down \(last error: [^)]*; trying again in \d+ ms\)$/,
      );
      // At once: no connect was attempted (the proxy saw one connection), so no wait on one either.
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(proxy.accepted()).toBe(1);
    } finally {
      h2.close();
      await proxy.close();
    }
  });
});

describe("retries of server streams", () => {
  it("opens an idempotent stream again when it fails before its first message", async () => {
    const f = fake([unavailable(), "ok"]);
    const skus = await drain(
      withRetries(f.transport, fast).stream(idempotentTail, undefined, 5_000, undefined, one({})),
    );
    expect(skus).toEqual(["S-0", "S-1", "S-2"]);
    expect(f.deadlines).toHaveLength(2);
  });

  it("never retries once a message has arrived: the caller has seen part of the result", async () => {
    const f = fake([{ sent: 1, end: unavailable() }, "ok"]);
    const res = withRetries(f.transport, fast).stream(idempotentTail, undefined, 5_000, undefined, one({}));
    const skus: string[] = [];
    const err = await error(
      (async () => {
        for await (const m of (await res).message) skus.push(m.item?.sku ?? "");
      })(),
    );
    expect(skus).toEqual(["S-0"]);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('the connection to backend "b" failed: reset');
    expect(f.deadlines).toHaveLength(1);
  });

  it("does not retry a stream of a method without idempotency_level", async () => {
    const f = fake([unavailable(), "ok"]);
    const err = await error(
      drain(withRetries(f.transport, fast).stream(tailItem, undefined, 5_000, undefined, one({}))),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(f.deadlines).toHaveLength(1);
  });
});
