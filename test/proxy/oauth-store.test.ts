import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isStale, lockOr, tryLock } from "../../src/proxy/oauth/lock.js";
import { createStore, type StoredRecord } from "../../src/proxy/oauth/store.js";

const SERVER = new URL("https://mcp.example.com/mcp");
const roots: string[] = [];
const home = () => {
  const root = mkdtempSync(join(tmpdir(), "mcpengine-oauth-"));
  roots.push(root);
  return join(root, "home");
};
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
const record = (n: number): StoredRecord => ({
  version: 1,
  server_url: SERVER.href,
  issuer: "https://id.example.com",
  client: { kind: "dynamic", client_id: `c${n}`, token_endpoint_auth_method: "none", redirect_uris: [] },
  tokens: {
    access_token: `a${n}`.padEnd(2000, "x"),
    refresh_token: `r${n}`,
    expires_at: 2_000_000_000 + n,
    obtained_at: 1_900_000_000,
    client_id: `c${n}`,
  },
});

describe("the token store", () => {
  it("keeps tokens in a 0600 file with expires_at, in a 0700 folder", async () => {
    const root = home();
    const store = createStore(root, SERVER);
    await store.write(record(1));
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "oauth")).mode & 0o777).toBe(0o700);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(store.file, "utf8")).tokens.expires_at).toBe(2_000_000_001);
    expect(await store.read()).toEqual(record(1));
  });

  it("replaces the file whole, so a concurrent reader never sees half of it", async () => {
    const store = createStore(home(), SERVER);
    await store.write(record(0));
    let torn = 0;
    let reads = 0;
    const writes = Promise.all(Array.from({ length: 100 }, (_, n) => store.write(record(n))));
    let done = false;
    void writes.then(() => {
      done = true;
    });
    while (!done) {
      const text = readFileSync(store.file, "utf8");
      reads++;
      try {
        JSON.parse(text);
      } catch {
        torn++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writes;
    expect(reads).toBeGreaterThan(0);
    expect(torn).toBe(0);
    expect(readdirSync(join(store.file, "..")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("ignores a file it cannot trust: garbage, or another server's record", async () => {
    const store = createStore(home(), SERVER);
    await store.write(record(1));
    writeFileSync(store.file, "{ not json");
    expect(await store.read()).toBeUndefined();
    writeFileSync(store.file, JSON.stringify({ ...record(1), server_url: "https://other.example.com/mcp" }));
    expect(await store.read()).toBeUndefined();
    writeFileSync(store.file, JSON.stringify({ ...record(1), tokens: { access_token: 42 } }));
    expect(await store.read()).toBeUndefined();
  });

  it("keeps each server apart and forgets one on remove", async () => {
    const root = home();
    const a = createStore(root, SERVER);
    const b = createStore(root, new URL("https://mcp.example.com/other"));
    expect(a.file).not.toBe(b.file);
    await a.write(record(1));
    await a.remove();
    expect(await a.read()).toBeUndefined();
  });
});

describe("the login lock", () => {
  const lockFile = () => join(home(), "oauth", "server.lock");

  it("lets one holder in and tells the others who holds it", async () => {
    const file = lockFile();
    const first = await tryLock(file, 60_000);
    expect(first.kind).toBe("acquired");
    const second = await tryLock(file, 60_000);
    expect(second).toMatchObject({ kind: "held", owner: { pid: process.pid } });
    if (first.kind === "acquired") await first.lock.release();
    expect((await tryLock(file, 60_000)).kind).toBe("acquired");
  });

  it("takes over the lock of a process that has exited", async () => {
    const file = lockFile();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    const held = await tryLock(file, 60_000);
    if (held.kind !== "acquired") throw new Error("not acquired");
    writeFileSync(file, JSON.stringify({ ...held.lock.owner, pid: gone }));
    expect((await tryLock(file, 60_000)).kind).toBe("acquired");
  });

  it("takes over a lock older than the longest login, but not a live, recent one", () => {
    const owner = { pid: process.pid, host: hostname(), nonce: "n", created_at: Date.now() };
    expect(isStale(owner, 60_000)).toBe(false);
    expect(isStale({ ...owner, created_at: Date.now() - 61_000 }, 60_000)).toBe(true);
    // Another machine's process cannot be looked up: only its age counts.
    expect(isStale({ ...owner, host: "elsewhere", pid: 999_999_999 }, 60_000)).toBe(false);
  });

  it("does not release a lock someone else took over", async () => {
    const file = lockFile();
    const mine = await tryLock(file, 60_000);
    if (mine.kind !== "acquired") throw new Error("not acquired");
    writeFileSync(file, JSON.stringify({ ...mine.lock.owner, nonce: "someone-else" }));
    await mine.lock.release();
    expect((await tryLock(file, 60_000)).kind).toBe("held");
  });

  it("lets a waiter pick up what the holder produced instead of taking the lock", async () => {
    const file = lockFile();
    const holder = await tryLock(file, 60_000);
    expect(holder.kind).toBe("acquired");
    let produced: string | undefined;
    setTimeout(() => {
      produced = "token";
    }, 100);
    const waited = await lockOr(file, async () => produced, {
      staleMs: 60_000,
      timeoutMs: 5_000,
      pollMs: 20,
    });
    expect(waited).toEqual({ kind: "done", value: "token" });
  });

  it("gives up waiting after the timeout", async () => {
    const file = lockFile();
    await tryLock(file, 60_000);
    await expect(
      lockOr(file, async () => undefined, { staleMs: 60_000, timeoutMs: 100, pollMs: 20 }),
    ).rejects.toMatchObject({ code: "login_timeout" });
  });
});
