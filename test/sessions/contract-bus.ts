import { describe, expect, it } from "vitest";
import type { BusMessage } from "../../src/sessions/index.js";
import { type Contract, sleep, until } from "./contract.js";

/** One message of every kind, as they travel between replicas. */
const EVERY_KIND: readonly BusMessage[] = [
  { kind: "event", stream: "0", seq: 3, data: '{"jsonrpc":"2.0","method":"notifications/progress"}' },
  { kind: "end", stream: "0" },
  { kind: "cancel", requestId: 5, reason: "user" },
  { kind: "cancel", requestId: "r-5", reason: "" },
  { kind: "answer", id: "srv-1", response: { jsonrpc: "2.0", id: "srv-1", result: { action: "accept" } } },
  { kind: "notify", data: '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}' },
  { kind: "unsubscribe", uri: "file:///a", by: "replica-a" },
  { kind: "attached", stream: "1", by: "replica-b" },
  { kind: "closed" },
  { kind: "task" },
];

/** The session bus and replica leases. */
export function busContract({ make, opts }: Contract): void {
  describe("session bus", () => {
    it("delivers every kind of message, in publish order, to the session's subscribers only", async () => {
      const { bus } = await make();
      const got: BusMessage[] = [];
      const other: BusMessage[] = [];
      await bus.subscribe("s1", (m) => got.push(m));
      await bus.subscribe("s2", (m) => other.push(m));
      const many = Array.from({ length: 50 }, (_, i): BusMessage => ({ kind: "notify", data: `${i}` }));
      await Promise.all([...EVERY_KIND, ...many].map((m) => bus.publish("s1", m)));
      await until(() => got.length >= EVERY_KIND.length + 50, "every message");
      expect(got).toEqual([...EVERY_KIND, ...many]);
      expect(other).toEqual([]);
    });

    it("stops delivering after unsubscribe, and keeps the other subscriber of the session", async () => {
      const { bus } = await make();
      const a: BusMessage[] = [];
      const b: BusMessage[] = [];
      const offA = await bus.subscribe("s", (m) => a.push(m));
      await bus.subscribe("s", (m) => b.push(m));
      await bus.publish("s", { kind: "notify", data: "1" });
      await until(() => a.length === 1 && b.length === 1, "both subscribers");
      offA();
      offA();
      await bus.publish("s", { kind: "notify", data: "2" });
      await until(() => b.length === 2, "the remaining subscriber");
      await sleep(30);
      expect(a.map((m) => m.kind === "notify" && m.data)).toEqual(["1"]);
    });

    it("keeps delivering to other handlers and publishing when a handler throws", async () => {
      const errors: unknown[] = [];
      const { bus } = await make({ onHandlerError: (e) => errors.push(e) });
      const got: BusMessage[] = [];
      await bus.subscribe("s", () => {
        throw new Error("handler bug");
      });
      await bus.subscribe("s", (m) => got.push(m));
      await bus.publish("s", { kind: "closed" });
      await bus.publish("s", { kind: "closed" });
      await until(() => got.length === 2 && errors.length === 2, "both handlers twice");
      expect(errors[0]).toMatchObject({ message: "handler bug" });
    });

    it.runIf(opts.replicaOf !== undefined)("carries messages published by another replica", async () => {
      const first = await make();
      const second = await opts.replicaOf?.(first);
      const got: BusMessage[] = [];
      const off = await first.bus.subscribe("s", (m) => got.push(m));
      await second?.bus.publish("s", { kind: "cancel", requestId: 1, reason: "x" });
      await second?.bus.publish("s", { kind: "closed" });
      await until(() => got.length === 2, "the other replica's messages");
      expect(got.map((m) => m.kind)).toEqual(["cancel", "closed"]);
      off();
    });
  });

  describe("replica registry", () => {
    it("tells a replica alive until its lease ends, and gone once retired", async () => {
      const { replicas } = await make();
      const until = Date.now() + 10_000;
      await replicas.renew("r1", until);
      expect(await replicas.alive("r1", Date.now())).toBe(true);
      expect(await replicas.alive("r1", until + 1)).toBe(false);
      expect(await replicas.alive("r2", Date.now())).toBe(false);
      await replicas.retire("r1");
      expect(await replicas.alive("r1", Date.now())).toBe(false);
    });

    it("lets a lease that is not renewed lapse", async () => {
      const { replicas } = await make();
      await replicas.renew("r1", Date.now() + 200);
      await replicas.renew("r2", Date.now() + 10_000);
      await sleep(350);
      expect(await replicas.alive("r1", Date.now())).toBe(false);
      expect(await replicas.alive("r2", Date.now())).toBe(true);
    });

    it.runIf(opts.replicaOf !== undefined)("shows one replica's lease to the others", async () => {
      const first = await make();
      const second = await opts.replicaOf?.(first);
      await first.replicas.renew("a", Date.now() + 10_000);
      expect(await second?.replicas.alive("a", Date.now())).toBe(true);
      await first.replicas.retire("a");
      expect(await second?.replicas.alive("a", Date.now())).toBe(false);
    });
  });
}
