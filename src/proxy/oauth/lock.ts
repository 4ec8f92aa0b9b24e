/**
 * The login lock: one file per MCP server that at most one process holds
 * while it logs in or refreshes, so that several proxies started by the same
 * host (one per chat window, say) open one browser window, redeem one
 * authorization code and never race to use one refresh token twice. The
 * others wait, watching the token store for what the holder writes.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { OAuthClientError } from "./errors.js";

/** Who holds a lock (the lock file's content). */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly nonce: string;
  /** Epoch milliseconds. */
  readonly created_at: number;
}

/** A lock this process holds. */
export interface Lock {
  readonly owner: LockOwner;
  /** Gives the lock up (only if it is still ours). */
  release(): Promise<void>;
}

/** The outcome of one attempt to take the lock. */
export type LockAttempt =
  | { readonly kind: "acquired"; readonly lock: Lock }
  | { readonly kind: "held"; readonly owner?: LockOwner };

/**
 * Whether a lock's owner is gone: older than `staleMs`, or a process of this
 * machine that no longer runs. A lock of another machine (a shared home
 * folder) is judged by age alone.
 */
export function isStale(owner: LockOwner, staleMs: number, now = Date.now()): boolean {
  if (now - owner.created_at > staleMs) return true;
  return owner.host === hostname() && !isRunning(owner.pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock if it is free or stale; never waits. */
export async function tryLock(file: string, staleMs: number): Promise<LockAttempt> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      nonce: randomBytes(8).toString("hex"),
      created_at: Date.now(),
    };
    try {
      // O_EXCL: exactly one process creates the file.
      const handle = await open(file, "wx", 0o600);
      try {
        await handle.writeFile(JSON.stringify(owner));
      } finally {
        await handle.close();
      }
      return { kind: "acquired", lock: { owner, release: () => release(file, owner.nonce) } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const seen = await readOwner(file);
    if (seen === "gone") continue;
    if (seen === "unreadable") {
      // Being written this instant, or garbage: judge it by the file's age.
      const age = await stat(file).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age <= staleMs || !(await breakLock(file, undefined))) return { kind: "held" };
      continue;
    }
    if (!isStale(seen.owner, staleMs)) return { kind: "held", owner: seen.owner };
    if (!(await breakLock(file, seen.raw))) return { kind: "held", owner: seen.owner };
  }
  return { kind: "held" };
}

/** How to wait for the lock. */
export interface WaitOptions {
  /** A lock older than this is taken over. */
  readonly staleMs: number;
  /** Give up (`login_timeout`) after this long. */
  readonly timeoutMs: number;
  /** How often to look again; default 200 ms. */
  readonly pollMs?: number;
  /** Told once when another process holds the lock. */
  readonly onWait?: (owner: LockOwner | undefined) => void;
}

/**
 * Waits until either `check` finds what the lock holder was to produce (the
 * other process finished: `done`), or the lock is ours (`locked`; the caller
 * must look once more, then do the work and release it).
 */
export async function lockOr<T>(
  file: string,
  check: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<{ readonly kind: "done"; readonly value: T } | { readonly kind: "locked"; readonly lock: Lock }> {
  const deadline = Date.now() + options.timeoutMs;
  let told = false;
  for (;;) {
    const value = await check();
    if (value !== undefined) return { kind: "done", value };
    const attempt = await tryLock(file, options.staleMs);
    if (attempt.kind === "acquired") return { kind: "locked", lock: attempt.lock };
    if (!told) {
      told = true;
      options.onWait?.(attempt.owner);
    }
    if (Date.now() > deadline) {
      throw new OAuthClientError("login_timeout", "gave up waiting for another process's login");
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
  }
}

async function readOwner(file: string): Promise<{ owner: LockOwner; raw: string } | "gone" | "unreadable"> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch {
    return "gone";
  }
  try {
    const v: unknown = JSON.parse(raw);
    if (
      typeof v === "object" &&
      v !== null &&
      "pid" in v &&
      typeof v.pid === "number" &&
      "host" in v &&
      typeof v.host === "string" &&
      "nonce" in v &&
      typeof v.nonce === "string" &&
      "created_at" in v &&
      typeof v.created_at === "number"
    ) {
      return { owner: { pid: v.pid, host: v.host, nonce: v.nonce, created_at: v.created_at }, raw };
    }
  } catch {
    // fall through
  }
  return "unreadable";
}

/**
 * Removes a stale lock without removing a fresh one by mistake: move it aside
 * (only one process can), check it is the one judged stale, else put it back.
 */
async function breakLock(file: string, seenRaw: string | undefined): Promise<boolean> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    await rename(file, aside);
  } catch {
    return false; // someone else moved it first
  }
  const raw = await readFile(aside, "utf8").catch(() => undefined);
  if (seenRaw === undefined || raw === seenRaw) {
    await rm(aside, { force: true });
    return true;
  }
  // A fresh lock was taken between our look and our move: restore it unless the place is taken.
  await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
  return false;
}

async function release(file: string, nonce: string): Promise<void> {
  const seen = await readOwner(file);
  if (typeof seen === "object" && seen.owner.nonce === nonce) await rm(file, { force: true });
}
