import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  createSharedState,
  type SharedState,
  type SharedStateOptions,
  SharedStateUnavailable,
} from "../../src/sessions/index.js";
import {
  DEFAULT_BOUNDS,
  describeSharedStateContract,
  type MakeOptions,
  rec,
  sleep,
  T,
  until,
} from "./contract.js";
import { task } from "./contract-tasks.js";
import { TcpProxy } from "./tcp-proxy.js";

const url = process.env.REDIS_URL;
/** Every key of this run starts with it; each state gets its own prefix below it. */
const run = `mcpengine-test:${randomUUID().slice(0, 8)}:`;
let made = 0;
const prefixes = new WeakMap<SharedState, string>();

function options(prefix: string, opts: MakeOptions = {}, redisUrl = url): SharedStateOptions {
  return {
    redis: { url: redisUrl ?? "" },
    keyPrefix: prefix,
    bounds: { ...DEFAULT_BOUNDS, ...opts.bounds },
    idleTimeoutMs: 60_000,
    ...(opts.onHandlerError ? { onHandlerError: opts.onHandlerError } : {}),
  };
}

async function make(opts: MakeOptions = {}, prefix = `${run}${++made}:`): Promise<SharedState> {
  const state = await createSharedState(options(prefix, opts));
  prefixes.set(state, prefix);
  return state;
}

/** Rejects with SharedStateUnavailable, within `ms`. */
async function unavailableWithin(ms: number, op: () => unknown): Promise<SharedStateUnavailable> {
  const started = Date.now();
  const err = await Promise.resolve()
    .then(op)
    .then(
      () => new Error("the operation succeeded"),
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(SharedStateUnavailable);
  expect(Date.now() - started).toBeLessThan(ms);
  return err as SharedStateUnavailable;
}

if (!url)
  console.warn("test/sessions/redis.test.ts: skipped, REDIS_URL is not set (CI sets redis://127.0.0.1:6379)");

describe.skipIf(!url)(url ? `Redis at ${url}` : "Redis (skipped: REDIS_URL is not set)", () => {
  afterAll(async () => {
    const redis = new Redis(url ?? "");
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${run}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    redis.disconnect();
  });

  describeSharedStateContract("redis", make, {
    boundsTotalBytes: false,
    replicaOf: (state, opts) => make(opts, prefixes.get(state)),
  });

  describe("keys", () => {
    it("puts every key under the prefix with a TTL no longer than its bound", async () => {
      const state = await make({ bounds: { ttlMs: 5_000 } });
      const prefix = prefixes.get(state) ?? "";
      await state.sessions.create(rec("s1", "sub:a", 0), { maxSessions: 9, maxPerOwner: 9 }, T);
      await state.sessions.open("s1", Date.now());
      await state.events.open("s1", "0", { replica: "r" });
      await state.events.append("s1", "0", "x");
      await state.replicas.renew("r", Date.now() + 3_000);
      const redis = new Redis(url ?? "");
      try {
        const keys = await redis.keys(`${prefix}*`);
        expect(keys.length).toBeGreaterThanOrEqual(9);
        for (const key of keys) {
          const ttl = await redis.pttl(key);
          expect(ttl, key).toBeGreaterThan(0);
          expect(ttl, key).toBeLessThanOrEqual(60_000);
        }
        expect(await redis.pttl(`${prefix}s:s1`)).toBeGreaterThan(55_000);
        expect(await redis.pttl(`${prefix}e:s1:0`)).toBeLessThanOrEqual(5_000);
        expect(await redis.pttl(`${prefix}replica:r`)).toBeLessThanOrEqual(3_000);
      } finally {
        redis.disconnect();
        await state.close();
      }
    });
  });

  describe("task records", () => {
    it("keeps a task under the prefix until its TTL from creation, and takes a foreign value for none", async () => {
      const state = await make();
      const prefix = prefixes.get(state) ?? "";
      const record = task({ ttlMs: 30_000 });
      await state.tasks.create(record);
      const redis = new Redis(url ?? "");
      try {
        const ttl = await redis.pttl(`${prefix}t:${record.id}`);
        expect(ttl).toBeGreaterThan(25_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
        await redis.hset(
          `${prefix}t:forged`,
          "v",
          "0",
          "d",
          JSON.stringify({ ...record, id: "forged", status: "done" }),
        );
        await redis.hset(`${prefix}t:other`, "v", "0", "d", JSON.stringify(record));
        await redis.hset(`${prefix}t:junk`, "v", "0", "d", "not json");
        expect(await state.tasks.get("forged")).toBeUndefined();
        expect(await state.tasks.get("other")).toBeUndefined();
        expect(await state.tasks.get("junk")).toBeUndefined();
      } finally {
        redis.disconnect();
      }
    });
  });

  describe("bus", () => {
    it("reports a malformed message to the error sink and hands it to no handler", async () => {
      const errors: unknown[] = [];
      const state = await make({ onHandlerError: (e) => errors.push(e) });
      const got: unknown[] = [];
      await state.bus.subscribe("s", (m) => got.push(m));
      const raw = new Redis(url ?? "");
      try {
        const channel = `${prefixes.get(state)}bus:s`;
        for (const text of ["not json", '{"kind":"event","stream":"0"}', '{"kind":"nope"}', "[1]"]) {
          await raw.publish(channel, text);
        }
        await raw.publish(channel, '{"kind":"closed"}');
        await until(() => got.length === 1, "the well-formed message");
        expect(errors).toHaveLength(4);
        expect(got).toEqual([{ kind: "closed" }]);
      } finally {
        raw.disconnect();
      }
    });
  });

  describe("records that expire", () => {
    it("lets a record expire after the idle timeout, and sweeps or evicts what is left of it", async () => {
      const prefix = `${run}expiry:`;
      const state = await createSharedState({ ...options(prefix), idleTimeoutMs: 300 });
      try {
        const now = Date.now();
        const two = { maxSessions: 9, maxPerOwner: 2 };
        for (const [id, owner] of [
          ["s1", "sub:a"],
          ["s2", "sub:a"],
          ["s4", "sub:b"],
        ] as const) {
          await state.sessions.create(rec(id, owner, 0, { lastSeen: now }), two, now);
        }
        // s2 held busy: its record and the indexes outlive the others' records.
        await state.sessions.hold("s2", Date.now() + 5_000);
        await sleep(600);
        expect(await state.sessions.open("s1", Date.now())).toBeUndefined();
        // The index keeps the expired ids until an eviction or a sweep reports them.
        expect(await state.sessions.count()).toBe(3);
        const later = Date.now();
        expect(await state.sessions.create(rec("s3", "sub:a", 0, { lastSeen: later }), two, later)).toEqual({
          ok: true,
          evicted: ["s1"],
        });
        expect(await state.sessions.sweep(Date.now(), 300)).toEqual(["s4"]);
        expect(await state.sessions.count()).toBe(2);
      } finally {
        await state.close();
      }
    });
  });

  describe("when Redis is down", () => {
    it("rejects every operation at once with SharedStateUnavailable, naming Redis but not the password", async () => {
      const state = await createSharedState({
        ...options(`${run}down:`, {}, "redis://:hunter2-secret@127.0.0.1:1"),
        connectWaitMs: 1_000,
      });
      try {
        expect(await state.ready()).toBe(false);
        const ops: (() => unknown)[] = [
          () => state.sessions.create(rec("s", "o", 0), { maxSessions: 9, maxPerOwner: 9 }, T),
          () => state.sessions.open("s", T),
          () => state.sessions.count(),
          () => state.events.append("s", "0", "x"),
          () => state.events.replay("s", "0", 0),
          () => state.bus.publish("s", { kind: "closed" }),
          () => state.bus.subscribe("s", () => {}),
          () => state.replicas.alive("r", Date.now()),
        ];
        for (const op of ops) {
          const err = await unavailableWithin(2_000, op);
          expect(err.message).toMatch(/Redis/);
          expect(err.message).not.toContain("hunter2");
          expect(err.code).toBe("unavailable");
        }
      } finally {
        await state.close();
      }
    });

    it("times out on a Redis that stopped answering, and recovers with its subscriptions when it is back", async () => {
      const target = new URL(url ?? "");
      const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
      await proxy.start();
      const prefix = `${run}proxy:`;
      const proxied = new URL(url ?? "");
      proxied.hostname = "127.0.0.1";
      proxied.port = String(proxy.port);
      const state = await createSharedState(options(prefix, {}, proxied.toString()));
      const direct = await make({}, prefix);
      try {
        const got: string[] = [];
        await state.bus.subscribe("s", (m) => got.push(m.kind));
        await direct.bus.publish("s", { kind: "notify", data: "before" });
        await until(() => got.length === 1, "a message before the outage");

        proxy.blackhole();
        const timedOut = await unavailableWithin(2_500, () => state.sessions.count());
        expect(timedOut.message).toMatch(/did not answer/);
        await proxy.stop();
        await unavailableWithin(1_000, () => state.sessions.open("s", T));
        expect(await state.ready()).toBe(false);

        await proxy.start();
        await until(() => state.ready(), "Redis through the proxy again", 5_000);
        expect(await state.sessions.count()).toBe(0);
        // Re-subscribed after the reconnect: a message published elsewhere arrives.
        await until(
          async () => {
            await direct.bus.publish("s", { kind: "closed" });
            return got.includes("closed");
          },
          "a message after the outage",
          5_000,
        );
      } finally {
        await state.close();
        await direct.close();
        await proxy.stop();
      }
    });
  });
});
