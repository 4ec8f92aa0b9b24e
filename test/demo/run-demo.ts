/**
 * Runs the real `mcpengine demo` (bin/mcpengine.js) as a user would, and
 * looks at it from outside: its banner, its logs, and its process tree.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

/** A demo started by {@link startDemoProcess}. */
export interface DemoProcess {
  readonly child: ChildProcess;
  /** The MCP endpoint and the identity provider, as the banner names them. */
  readonly url: string;
  readonly issuer: string | undefined;
  /** Everything written so far on stdout (the banner) and stderr (the parts' prefixed logs). */
  out(): string;
  err(): string;
  /** How the supervisor ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `mcpengine demo <args>` and waits (bounded) for the banner's last
 * line, which is printed once every part is ready.
 */
export async function startDemoProcess(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { readyMs?: number; ownGroup?: boolean } = {},
): Promise<DemoProcess> {
  const readyMs = options.readyMs ?? 90_000;
  const child = spawn(process.execPath, [BIN, "demo", ...args], {
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group.
    detached: options.ownGroup === true,
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const ready = await Promise.race([
    until(() => out.includes("Press Ctrl+C"), readyMs).then(() => true),
    exited.then(() => false),
  ]).catch(() => false);
  if (!ready) {
    kill(child, "SIGKILL");
    throw new Error(`the demo did not start:\n${out}\n${err}`);
  }
  return {
    child,
    url: /MCP gateway on (\S+)/.exec(out)?.[1] ?? "",
    issuer: /OpenID provider (http\S+)/.exec(out)?.[1],
    out: () => out,
    err: () => err,
    exited,
  };
}

/** Signals the demo's process group when it has its own (all its parts), else the demo alone. */
export function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined && isGroupLeader(child.pid)) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

function isGroupLeader(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state, ppid, pgrp.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pid;
  } catch {
    return false;
  }
}

/** Every process below `root` (children, grandchildren …), from /proc (Linux). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const below: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        below.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return below;
}

/** The command line of a process, or undefined once it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Whether the process exists (and is not a zombie waiting for its parent). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The demo's part processes (`mcpengine demo --only <part>`), by part. */
export function partPids(root: number): Map<string, number> {
  const parts = new Map<string, number>();
  for (const pid of descendants(root)) {
    const part = / demo --only (\w+)/.exec(commandLine(pid) ?? "")?.[1];
    if (part) parts.set(part, pid);
  }
  return parts;
}

/** Waits until `condition` holds, polling; rejects after `ms`. */
export async function until(condition: () => boolean, ms: number, what = "a condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
