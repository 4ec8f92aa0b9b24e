import { describe, expect, it } from "vitest";
import type { EventLog } from "../../src/sessions/index.js";
import { type Contract, sleep } from "./contract.js";

const origin = { replica: "r1" };

async function appendAll(log: EventLog, session: string, stream: string, data: readonly string[]) {
  const seqs: number[] = [];
  for (const d of data) seqs.push(await log.append(session, stream, d));
  return seqs;
}

async function kept(log: EventLog, session: string, stream: string, afterSeq = 0) {
  return (await log.replay(session, stream, afterSeq))?.events.map((e) => e.data);
}

/** Resumable streams (MCP 2025-11-25 basic/transports "Resumability and Redelivery"). */
export function eventLogContract({ make, opts }: Contract): void {
  describe("event log", () => {
    it("numbers each stream's events 1, 2, … on its own", async () => {
      const { events } = await make();
      await events.open("s1", "a", origin);
      await events.open("s1", "b", origin);
      await events.open("s2", "a", origin);
      expect(await appendAll(events, "s1", "a", ["1", "2", "3"])).toEqual([1, 2, 3]);
      expect(await appendAll(events, "s1", "b", ["x"])).toEqual([1]);
      expect(await appendAll(events, "s2", "a", ["y", "z"])).toEqual([1, 2]);
      expect(await events.append("s1", "a", "")).toBe(4);
      expect((await events.replay("s1", "a", 3))?.events).toEqual([{ seq: 4, data: "" }]);
    });

    it("replays the events after any sequence number, with the last number given", async () => {
      const { events } = await make();
      await events.open("s", "a", origin);
      const data = ["one", '{"jsonrpc":"2.0","method":"x"}', "three", "four"];
      await appendAll(events, "s", "a", data);
      for (let after = 0; after <= data.length + 1; after++) {
        const replay = await events.replay("s", "a", after);
        expect(replay?.events).toEqual(data.slice(after).map((d, i) => ({ seq: after + i + 1, data: d })));
        expect(replay?.lastSeq).toBe(4);
      }
      expect((await events.replay("s", "a", -1))?.events).toHaveLength(4);
    });

    it("reports a stream ended once end() is called, and running before", async () => {
      const { events } = await make();
      await events.open("s", "a", origin);
      expect(await events.replay("s", "a", 0)).toEqual({
        replica: "r1",
        events: [],
        done: false,
        lastSeq: 0,
      });
      await events.append("s", "a", "last");
      await events.end("s", "a");
      expect(await events.replay("s", "a", 1)).toMatchObject({ events: [], done: true, lastSeq: 1 });
      await events.end("s", "unknown");
      expect(await events.replay("s", "unknown", 0)).toBeUndefined();
    });

    it("gives back the origin: request ids of both kinds, and none for the standalone stream", async () => {
      const { events } = await make();
      await events.open("s", "n", { requestId: 7, replica: "r-a" });
      await events.open("s", "t", { requestId: "req-7", replica: "r-b" });
      await events.open("s", "get", { replica: "r-c" });
      expect(await events.replay("s", "n", 0)).toMatchObject({ requestId: 7, replica: "r-a" });
      expect(await events.replay("s", "t", 0)).toMatchObject({ requestId: "req-7", replica: "r-b" });
      const standalone = await events.replay("s", "get", 0);
      expect(standalone?.replica).toBe("r-c");
      expect(standalone && "requestId" in standalone).toBe(false);
    });

    it("numbers nothing on a stream it does not know, and opening twice changes nothing", async () => {
      const { events } = await make();
      expect(await events.append("s", "never", "x")).toBe(0);
      expect(await events.replay("s", "never", 0)).toBeUndefined();
      await events.open("s", "a", { requestId: 1, replica: "r1" });
      await events.append("s", "a", "x");
      await events.open("s", "a", { requestId: 2, replica: "r2" });
      expect(await events.replay("s", "a", 0)).toMatchObject({ requestId: 1, replica: "r1", lastSeq: 1 });
    });

    it("keeps at most maxEvents per stream, the newest", async () => {
      const { events } = await make({ bounds: { maxEvents: 3 } });
      await events.open("s", "a", origin);
      await appendAll(events, "s", "a", ["1", "2", "3", "4", "5"]);
      expect(await events.replay("s", "a", 0)).toMatchObject({
        events: [
          { seq: 3, data: "3" },
          { seq: 4, data: "4" },
          { seq: 5, data: "5" },
        ],
        lastSeq: 5,
      });
    });

    it("keeps at most maxStreamBytes per stream; a larger event is numbered but not kept", async () => {
      const { events } = await make({ bounds: { maxStreamBytes: 10 } });
      await events.open("s", "a", origin);
      expect(await appendAll(events, "s", "a", ["aaaa", "bbbb", "cccc"])).toEqual([1, 2, 3]);
      expect(await kept(events, "s", "a")).toEqual(["bbbb", "cccc"]);
      expect(await events.append("s", "a", "x".repeat(11))).toBe(4);
      expect(await kept(events, "s", "a")).toEqual(["bbbb", "cccc"]);
      expect(await events.append("s", "a", "dd")).toBe(5);
      expect(await kept(events, "s", "a")).toEqual(["bbbb", "cccc", "dd"]);
      // Bytes are UTF-8 bytes: "ééé" is 6 of them.
      expect(await events.append("s", "a", "ééé")).toBe(6);
      expect(await kept(events, "s", "a")).toEqual(["dd", "ééé"]);
    });

    it("past the session's bytes, drops its ended streams whole first, then its oldest events", async () => {
      const { events } = await make({ bounds: { maxSessionBytes: 20 } });
      for (const s of ["ended", "old", "new"]) await events.open("s", s, origin);
      await events.open("other", "a", origin);
      await appendAll(events, "other", "a", ["o".repeat(15)]);
      await appendAll(events, "s", "ended", ["e".repeat(8)]);
      await events.end("s", "ended");
      await appendAll(events, "s", "old", ["1".repeat(4), "2".repeat(4)]);
      await appendAll(events, "s", "new", ["n".repeat(6)]); // 22 bytes: the ended stream goes
      expect(await events.replay("s", "ended", 0)).toBeUndefined();
      expect(await kept(events, "s", "old")).toEqual(["1111", "2222"]);
      await appendAll(events, "s", "new", ["m".repeat(8)]); // 22 again: the oldest event goes
      expect(await kept(events, "s", "old")).toEqual(["2222"]);
      expect(await kept(events, "s", "new")).toEqual(["nnnnnn", "mmmmmmmm"]);
      expect(await kept(events, "other", "a")).toEqual(["o".repeat(15)]);
    });

    it("keeps maxStreams per session, dropping the oldest ended ones, never a running one", async () => {
      const { events } = await make({ bounds: { maxStreams: 3 } });
      const known = async (...streams: string[]) => {
        const found: string[] = [];
        for (const s of streams) if (await events.replay("s", s, 0)) found.push(s);
        return found;
      };
      for (const s of ["a", "b", "c"]) await events.open("s", s, origin);
      await events.end("s", "b");
      await events.end("s", "a"); // ended after b, but opened before it: the oldest ended
      await events.open("s", "d", origin);
      expect(await known("a", "b", "c", "d")).toEqual(["b", "c", "d"]);
      // Running streams are kept over the bound; ended ones go until it holds again.
      for (const s of ["e", "f"]) await events.open("s", s, origin);
      expect(await known("b", "c", "d", "e", "f")).toEqual(["c", "d", "e", "f"]);
      await events.end("s", "c");
      await events.end("s", "d");
      await events.open("s", "g", origin);
      expect(await known("c", "d", "e", "f", "g")).toEqual(["e", "f", "g"]);
    });

    it("forgets a stream with no new event for ttlMs", async () => {
      const { events } = await make({ bounds: { ttlMs: 600 } });
      await events.open("s", "a", origin);
      await events.open("s", "b", origin);
      await events.append("s", "a", "x");
      await sleep(400);
      await events.append("s", "a", "y"); // a is refreshed, b is not
      await sleep(400);
      expect(await kept(events, "s", "a")).toEqual(["x", "y"]);
      await sleep(900);
      expect(await events.replay("s", "a", 0)).toBeUndefined();
      expect(await events.replay("s", "b", 0)).toBeUndefined();
      expect(await events.append("s", "a", "z")).toBe(0);
    });

    it("drops every stream of one session and nothing of another", async () => {
      const { events } = await make();
      await events.open("s1", "a", origin);
      await events.open("s1", "b", origin);
      await events.open("s2", "a", origin);
      for (const [s, t] of [
        ["s1", "a"],
        ["s1", "b"],
        ["s2", "a"],
      ] as const)
        await events.append(s, t, "x");
      await events.drop("s1");
      expect(await events.replay("s1", "a", 0)).toBeUndefined();
      expect(await events.replay("s1", "b", 0)).toBeUndefined();
      expect(await kept(events, "s2", "a")).toEqual(["x"]);
      await events.drop("never");
    });

    it.runIf(opts.boundsTotalBytes)(
      "past the total bytes, drops ended streams first, then the oldest events",
      async () => {
        const { events } = await make({ bounds: { maxTotalBytes: 20 } });
        await events.open("s1", "done", origin);
        await events.open("s2", "live", origin);
        await events.open("s3", "live", origin);
        await appendAll(events, "s1", "done", ["d".repeat(8)]);
        await events.end("s1", "done");
        await appendAll(events, "s2", "live", ["1".repeat(4), "2".repeat(4)]);
        await appendAll(events, "s3", "live", ["n".repeat(6)]);
        expect(await events.replay("s1", "done", 0)).toBeUndefined();
        await appendAll(events, "s3", "live", ["m".repeat(8)]);
        expect(await kept(events, "s2", "live")).toEqual(["2222"]);
      },
    );

    it("numbers appends from two replicas without sharing or skipping a number", async () => {
      const first = await make();
      const second = opts.replicaOf ? await opts.replicaOf(first) : first;
      await first.events.open("s", "a", origin);
      const seqs = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? first : second).events.append("s", "a", `e${i}`)),
      );
      expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const replay = await second.events.replay("s", "a", 0);
      expect(replay?.events.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    });
  });
}
