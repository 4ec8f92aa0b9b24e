import { describe, expect, it } from "vitest";
import type { SessionStore, SharedState } from "../../src/sessions/index.js";
import { type Contract, rec, T } from "./contract.js";

const bounds = (maxSessions: number, maxPerOwner: number) => ({ maxSessions, maxPerOwner });
const roomy = bounds(1_000, 1_000);

async function seed(store: SessionStore, ...ids: [id: string, owner: string, at: number][]) {
  for (const [id, owner, at] of ids) {
    expect(await store.create(rec(id, owner, at), roomy, T + at)).toEqual({ ok: true, evicted: [] });
  }
}

async function ids(store: SessionStore, candidates: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const id of candidates) if (await store.open(id, T + 5_000)) found.push(id);
  return found;
}

/** Session records: create/open/hold/update/delete/sweep/count and the bounds (MCP "Session Management"). */
export function sessionStoreContract({ make, opts }: Contract): void {
  describe("session store", () => {
    it("creates a record and opens it with lastSeen moved to now; unknown ids open as undefined", async () => {
      const { sessions } = await make();
      const record = rec("s1", "sub:alice", 0, {
        subject: "alice",
        era: "legacy",
        version: "2024-11-05",
        clientCapabilities: { roots: { listChanged: true }, elicitation: {} },
        logLevel: "info",
      });
      expect(await sessions.create(record, roomy, T)).toEqual({ ok: true, evicted: [] });
      expect(await sessions.open("s1", T + 50)).toEqual({ ...record, lastSeen: T + 50 });
      expect(await sessions.open("nope", T + 50)).toBeUndefined();
      expect(await sessions.count()).toBe(1);
    });

    it("keeps an absent subject and log level absent", async () => {
      const { sessions } = await make();
      await sessions.create(rec("s1", "addr:127.0.0.1", 0), roomy, T);
      const opened = await sessions.open("s1", T);
      expect(opened?.subject).toBeUndefined();
      expect(opened?.logLevel).toBeUndefined();
    });

    it("sets until when a session is busy, 0 releasing it, and creates nothing for an unknown id", async () => {
      const { sessions } = await make();
      await seed(sessions, ["s1", "o", 0], ["s2", "o", 1]);
      await sessions.hold("s1", T + 1_000);
      expect((await sessions.open("s1", T + 1))?.busyUntil).toBe(T + 1_000);
      await sessions.hold("s1", T + 500);
      expect((await sessions.open("s1", T + 2))?.busyUntil).toBe(T + 500);
      // Busy sessions are not swept; once released, it is.
      expect(await sessions.sweep(T + 300, 100)).toEqual(["s2"]);
      await sessions.hold("s1", 0);
      expect(await sessions.sweep(T + 300, 100)).toEqual(["s1"]);
      await sessions.hold("nope", T + 1_000);
      expect(await sessions.open("nope", T)).toBeUndefined();
      expect(await sessions.count()).toBe(0);
    });

    it("updates the log level and capabilities, and creates nothing for an unknown id", async () => {
      const { sessions } = await make();
      await seed(sessions, ["s1", "o", 0]);
      await sessions.update("s1", { logLevel: "debug" });
      await sessions.update("s1", { clientCapabilities: { sampling: {} } });
      const opened = await sessions.open("s1", T);
      expect(opened).toMatchObject({ logLevel: "debug", clientCapabilities: { sampling: {} } });
      await sessions.update("nope", { logLevel: "debug" });
      expect(await sessions.open("nope", T)).toBeUndefined();
      expect(await sessions.count()).toBe(1);
    });

    it("deletes a session once", async () => {
      const { sessions } = await make();
      await seed(sessions, ["s1", "o", 0], ["s2", "o", 1]);
      expect(await sessions.delete("s1")).toBe(true);
      expect(await sessions.delete("s1")).toBe(false);
      expect(await sessions.open("s1", T)).toBeUndefined();
      expect(await sessions.count()).toBe(1);
    });

    it("sweeps the sessions idle for longer than idleMs that are not busy", async () => {
      const { sessions } = await make();
      await seed(sessions, ["old", "o", 0], ["held", "o", 5], ["older", "p", 10], ["recent", "o", 20]);
      await sessions.hold("held", T + 200);
      const gone = await sessions.sweep(T + 100, 85);
      expect([...gone].sort()).toEqual(["old", "older"]);
      expect(await ids(sessions, ["old", "held", "older", "recent"])).toEqual(["held", "recent"]);
      expect(await sessions.count()).toBe(2);
      // `ids` opened both at T + 5000; once the hold has lapsed and they are idle again, both go.
      expect(await sessions.sweep(T + 5_050, 100)).toEqual([]);
      expect([...(await sessions.sweep(T + 5_200, 100))].sort()).toEqual(["held", "recent"]);
    });

    it("evicts the owner's least recently seen idle session past the owner's bound, never another owner's", async () => {
      const { sessions } = await make();
      await seed(sessions, ["b1", "sub:bob", 0], ["a1", "sub:alice", 1], ["a2", "sub:alice", 2]);
      await seed(sessions, ["a3", "sub:alice", 3]);
      await sessions.open("a1", T + 10); // a1 is now the most recently seen
      await sessions.hold("a2", T + 1_000); // a2 is busy
      const created = await sessions.create(rec("a4", "sub:alice", 20), bounds(100, 3), T + 20);
      expect(created).toEqual({ ok: true, evicted: ["a3"] });
      expect(await ids(sessions, ["b1", "a1", "a2", "a3", "a4"])).toEqual(["b1", "a1", "a2", "a4"]);
    });

    it("refuses with 'client' when every session of the owner is busy, deleting nothing", async () => {
      const { sessions } = await make();
      await seed(sessions, ["b1", "sub:bob", 0], ["a1", "sub:alice", 1], ["a2", "sub:alice", 2]);
      await sessions.hold("a1", T + 1_000);
      await sessions.hold("a2", T + 1_000);
      const created = await sessions.create(rec("a3", "sub:alice", 20), bounds(100, 2), T + 20);
      expect(created).toEqual({ ok: false, reason: "client" });
      expect(await ids(sessions, ["b1", "a1", "a2", "a3"])).toEqual(["b1", "a1", "a2"]);
    });

    it("evicts the least recently seen idle session of any owner past the global bound", async () => {
      const { sessions } = await make();
      await seed(sessions, ["x", "sub:x", 0], ["y", "sub:y", 1], ["z", "sub:z", 2]);
      await sessions.open("x", T + 10);
      const created = await sessions.create(rec("w", "sub:w", 20), bounds(3, 10), T + 20);
      expect(created).toEqual({ ok: true, evicted: ["y"] });
      await sessions.hold("z", T + 1_000);
      const next = await sessions.create(rec("v", "sub:v", 30), bounds(3, 10), T + 30);
      expect(next).toEqual({ ok: true, evicted: ["x"] });
      expect(await sessions.count()).toBe(3);
    });

    it("refuses with 'full' when every session is busy", async () => {
      const { sessions } = await make();
      await seed(sessions, ["x", "sub:x", 0], ["y", "sub:y", 1]);
      await sessions.hold("x", T + 1_000);
      await sessions.hold("y", T + 1_000);
      expect(await sessions.create(rec("w", "sub:w", 20), bounds(2, 10), T + 20)).toEqual({
        ok: false,
        reason: "full",
      });
      // Once the holds lapse, room is made again.
      expect(await sessions.create(rec("w", "sub:w", 2_000), bounds(2, 10), T + 2_000)).toEqual({
        ok: true,
        evicted: ["x"],
      });
    });

    it("never exceeds the bounds under concurrent creates, evicting each victim once", async () => {
      const first = await make();
      const second = opts.replicaOf ? await opts.replicaOf(first) : first;
      const stores = [first.sessions, second.sessions];
      const all = Array.from({ length: 30 }, (_, i) => `c${i}`);
      const results = await Promise.all(
        all.map((id, i) => stores[i % 2]?.create(rec(id, `sub:${i % 3}`, i), bounds(5, 4), T + i)),
      );
      expect(results.every((r) => r?.ok)).toBe(true);
      const evicted = results.flatMap((r) => (r?.ok ? r.evicted : []));
      expect(new Set(evicted).size).toBe(evicted.length);
      expect(await first.sessions.count()).toBe(5);
      const left = await ids(first.sessions, all);
      expect([...left, ...evicted].sort()).toEqual([...all].sort());
      await concurrentRefusals(first, second, left);
    });

    it("never exceeds the per-owner bound under concurrent creates", async () => {
      const first = await make();
      const second = opts.replicaOf ? await opts.replicaOf(first) : first;
      const all = Array.from({ length: 12 }, (_, i) => `m${i}`);
      const results = await Promise.all(
        all.map((id, i) =>
          (i % 2 ? first : second).sessions.create(rec(id, "sub:me", i), bounds(100, 3), T + i),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(12);
      expect(await first.sessions.count()).toBe(3);
      expect(await ids(first.sessions, all)).toHaveLength(3);
    });
  });
}

/** With every session busy, concurrent creates are all refused and nothing is deleted. */
async function concurrentRefusals(first: SharedState, second: SharedState, left: readonly string[]) {
  for (const id of left) expect(await first.sessions.delete(id)).toBe(true);
  const busy = Array.from({ length: 5 }, (_, i) => `busy${i}`);
  for (const id of busy)
    await first.sessions.create(rec(id, `sub:${id}`, 100, { busyUntil: T + 9_999 }), roomy, T);
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? first : second).sessions.create(rec(`n${i}`, `sub:n${i}`, 200), bounds(5, 5), T + 200),
    ),
  );
  expect(results).toEqual(Array.from({ length: 10 }, () => ({ ok: false, reason: "full" })));
  expect(await ids(first.sessions, busy)).toEqual(busy);
}
