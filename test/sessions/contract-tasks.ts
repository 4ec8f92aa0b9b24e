import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TaskRecord } from "../../src/sessions/index.js";
import { type Contract, sleep } from "./contract.js";

/** A task record created now, with every field a record can carry. */
export function task(extra: Partial<TaskRecord> = {}): TaskRecord {
  const now = Date.now();
  return {
    id: randomUUID(),
    owner: "sub:alice",
    kind: "local",
    status: "input_required",
    statusMessage: "waiting for the user",
    createdAt: now,
    updatedAt: now,
    ttlMs: 60_000,
    pollIntervalMs: 1_000,
    inputRequests: { confirm: { method: "elicitation/create", params: { message: "Go on?" } } },
    inputResponses: { name: { action: "accept", content: { name: "Ada" } } },
    replica: "replica-a",
    source: { operation: "operations/123" },
    version: 0,
    ...extra,
  };
}

/** The task store (MCP tasks, extension io.modelcontextprotocol/tasks). */
export function taskStoreContract({ make, opts }: Contract): void {
  describe("task store", () => {
    it("gives a created task back whole, field for field", async () => {
      const { tasks } = await make();
      const record = task();
      expect(await tasks.create(record)).toBe(true);
      expect(await tasks.get(record.id)).toEqual(record);
      const done = task({ status: "completed", result: { content: [{ type: "text", text: "ok" }] } });
      const failed = task({ status: "failed", error: { code: -32603, message: "boom", data: { at: 1 } } });
      for (const r of [done, failed]) {
        await tasks.create(r);
        expect(await tasks.get(r.id)).toEqual(r);
      }
    });

    it("refuses a second task with a taken id and keeps the first", async () => {
      const { tasks } = await make();
      const first = task();
      await tasks.create(first);
      expect(await tasks.create({ ...first, owner: "sub:mallory" })).toBe(false);
      expect((await tasks.get(first.id))?.owner).toBe("sub:alice");
    });

    it("knows no task under an id it never had", async () => {
      const { tasks } = await make();
      expect(await tasks.get(randomUUID())).toBeUndefined();
      expect(await tasks.compareAndSet(0, task({ version: 1 }))).toBe(false);
    });

    it("writes only over the version it read: a stale writer loses", async () => {
      const { tasks } = await make();
      const record = task({ status: "working" });
      await tasks.create(record);
      const done = { ...record, status: "completed" as const, result: { content: [] }, version: 1 };
      expect(await tasks.compareAndSet(0, done)).toBe(true);
      expect(await tasks.compareAndSet(0, { ...record, status: "cancelled", version: 1 })).toBe(false);
      expect(await tasks.get(record.id)).toEqual(done);
      const later = { ...done, statusMessage: "summary", version: 2 };
      expect(await tasks.compareAndSet(1, later)).toBe(true);
      expect(await tasks.get(record.id)).toEqual(later);
    });

    it("lets exactly one of two writers racing on the same version win", async () => {
      const { tasks } = await make();
      for (let round = 0; round < 10; round++) {
        const record = task({ status: "working" });
        await tasks.create(record);
        const cancelled = { ...record, status: "cancelled" as const, version: 1 };
        const completed = { ...record, status: "completed" as const, result: {}, version: 1 };
        const won = await Promise.all([tasks.compareAndSet(0, cancelled), tasks.compareAndSet(0, completed)]);
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await tasks.get(record.id)).toEqual(won[0] ? cancelled : completed);
      }
    });

    it("forgets a task once its TTL from creation has passed, writes or not", async () => {
      const { tasks } = await make();
      const record = task({ ttlMs: 400 });
      await tasks.create(record);
      await sleep(150);
      expect(await tasks.compareAndSet(0, { ...record, statusMessage: "later", version: 1 })).toBe(true);
      expect(await tasks.get(record.id)).toBeDefined();
      await sleep(400);
      expect(await tasks.get(record.id)).toBeUndefined();
      expect(await tasks.compareAndSet(1, { ...record, version: 2 })).toBe(false);
    });

    it.runIf(opts.replicaOf !== undefined)(
      "shows a task created on one replica, and its later writes, to another",
      async () => {
        const first = await make();
        const second = await opts.replicaOf?.(first);
        const record = task({ status: "working" });
        await first.tasks.create(record);
        expect(await second?.tasks.get(record.id)).toEqual(record);
        const cancelled = { ...record, status: "cancelled" as const, version: 1 };
        expect(await second?.tasks.compareAndSet(0, cancelled)).toBe(true);
        expect(await first.tasks.get(record.id)).toEqual(cancelled);
        expect(await first.tasks.compareAndSet(0, { ...record, status: "completed", version: 1 })).toBe(
          false,
        );
      },
    );
  });
}
