import { describe, expect, it } from "vitest";
import { createSharedState } from "../../src/sessions/index.js";
import { MemoryEventLog } from "../../src/sessions/memory-log.js";
import { MemoryTaskStore } from "../../src/sessions/memory-tasks.js";
import { DEFAULT_BOUNDS, describeSharedStateContract } from "./contract.js";
import { task } from "./contract-tasks.js";

describeSharedStateContract(
  "memory",
  (options) =>
    createSharedState({
      bounds: { ...DEFAULT_BOUNDS, ...options.bounds },
      ...(options.onHandlerError ? { onHandlerError: options.onHandlerError } : {}),
    }),
  { boundsTotalBytes: true },
);

describe("in-memory shared state", () => {
  it("answers synchronously on the hot path", async () => {
    const state = await createSharedState({ bounds: DEFAULT_BOUNDS });
    expect(state.kind).toBe("memory");
    expect(state.events.open("s", "a", { replica: "r" })).toBeUndefined();
    expect(state.events.append("s", "a", "x")).toBe(1);
    expect(state.sessions.open("nope", 0)).toBeUndefined();
    expect(state.sessions.count()).toBe(0);
    let got = 0;
    const off = state.bus.subscribe("s", () => got++);
    expect(typeof off).toBe("function");
    state.bus.publish("s", { kind: "closed" });
    expect(got).toBe(1);
    expect(await state.ready()).toBe(true);
    await state.close();
  });

  it("keeps its byte count exact through trims, drops and expiry", () => {
    let now = 1_000;
    const log = new MemoryEventLog({ ...DEFAULT_BOUNDS, maxSessionBytes: 50, ttlMs: 100 }, () => now);
    for (let s = 0; s < 5; s++) {
      log.open("s", `t${s}`, { replica: "r" });
      for (let i = 0; i < 20; i++) log.append("s", `t${s}`, "x".repeat(i % 7));
      if (s % 2) log.end("s", `t${s}`);
    }
    expect(log.keptBytes).toBeLessThanOrEqual(50);
    now += 101;
    log.open("s", "fresh", { replica: "r" });
    expect(log.keptBytes).toBe(0);
    log.append("s", "fresh", "abc");
    expect(log.keptBytes).toBe(3);
  });

  it("keeps at most maxTasks task records: expired ones go first, then the oldest finished one, then the oldest", () => {
    let now = 1_000_000;
    const store = new MemoryTaskStore(3, () => now);
    const at = (extra: Parameters<typeof task>[0]) => task({ createdAt: now, updatedAt: now, ...extra });
    const short = at({ status: "working", ttlMs: 10 });
    const running = at({ status: "working" });
    const done = at({ status: "completed" });
    for (const r of [short, running, done]) store.create(r);
    now += 11;
    const fourth = at({ status: "working" });
    store.create(fourth);
    expect([short, running, done, fourth].map((r) => store.get(r.id) !== undefined)).toEqual([
      false,
      true,
      true,
      true,
    ]);
    const fifth = at({ status: "working" });
    store.create(fifth);
    expect(store.get(done.id)).toBeUndefined();
    expect(store.size).toBe(3);
    const sixth = at({ status: "working" });
    store.create(sixth);
    expect(store.get(running.id)).toBeUndefined();
    expect([fourth, fifth, sixth].every((r) => store.get(r.id))).toBe(true);
  });
});
