import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../examples/smack/db.js";
import { SEED_MESSAGES, seedSmack } from "../../examples/smack/seed.js";
import { startSmack } from "../../examples/smack/server.js";
import { MessageStore } from "../../examples/smack/store.js";

describe("Smack's demo seed", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-seed-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes each seed message once, however often it runs", async () => {
    const db = await openDatabase({});
    try {
      const store = new MessageStore(db);
      await store.migrate();
      expect(await seedSmack(store)).toBe(SEED_MESSAGES.length);
      expect(await seedSmack(store)).toBe(0);
      const general = await store.read("general", 50);
      expect(general.messages.map((m) => [m.author, m.text])).toEqual(
        SEED_MESSAGES.filter((m) => m.channel === "general").map((m) => [m.author, m.text]),
      );
      const counts = Object.fromEntries((await store.channels()).map((c) => [c.name, Number(c.count)]));
      expect(counts).toEqual({ announcements: 1, general: 3, random: 2 });
    } finally {
      await db.close();
    }
  });

  it("adds nothing when Smack starts again on a database it seeded, and keeps what users wrote", async () => {
    const dataDir = join(dir, "pglite");
    const first = await startSmack({ port: 0, dataDir, seed: true });
    expect(first.seeded).toBe(SEED_MESSAGES.length);
    await first.close();
    const db = await openDatabase({ dataDir });
    await new MessageStore(db).write("general", "alice", "written between two runs");
    await db.close();
    const second = await startSmack({ port: 0, dataDir, seed: true });
    expect(second.seeded).toBe(0);
    await second.close();
    const again = await openDatabase({ dataDir });
    try {
      const general = await new MessageStore(again).read("general", 50);
      expect(general.messages).toHaveLength(4);
      expect(general.messages.at(-1)?.text).toBe("written between two runs");
    } finally {
      await again.close();
    }
  });
});
