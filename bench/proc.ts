import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

/** A process under test. */
export interface Child {
  readonly name: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** user+system CPU seconds so far, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  /** Resident set size in bytes. */
  rssBytes(): number;
  /** JS heap in use after a full GC, asked over stdin (servers that answer "heap"). */
  heapBytes(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a TypeScript entry point in one node process (`node --import tsx`, so
 * the pid we read /proc for is the server itself), pinned to `cpu` with
 * taskset, and waits for it to print "READY <port>".
 */
export async function startChild(
  name: string,
  script: string,
  env: Record<string, string>,
  cpu?: number,
): Promise<Child> {
  // BENCH_PROF=<dir>: each child writes a V8 CPU profile there when stopped (`--cpu-prof`).
  const prof = process.env.BENCH_PROF;
  const args = [
    process.execPath,
    "--expose-gc",
    ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}/${name}`] : []),
    "--import",
    "tsx",
    fileURLToPath(new URL(script, import.meta.url)),
  ];
  const cmd = cpu !== undefined ? ["taskset", "-c", String(cpu), ...args] : args;
  const proc = spawn(cmd[0] ?? process.execPath, cmd.slice(1), {
    env: { ...process.env, ...env, NODE_ENV: "production" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 30_000);
    proc.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
    });
  });
  const pid = proc.pid ?? 0;
  // taskset execs in place, so the pid is node's own.
  const stat = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return {
    name,
    port,
    proc,
    cpuSeconds() {
      const f = stat();
      return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
    },
    rssBytes() {
      return Number(stat()[21]) * PAGE_SIZE;
    },
    heapBytes: () =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not report its heap`)), 10_000);
        const onData = (b: Buffer) => {
          const m = /HEAP (\d+)/.exec(b.toString());
          if (!m) return;
          clearTimeout(timer);
          proc.stdout?.off("data", onData);
          resolve(Number(m[1]));
        };
        proc.stdout?.on("data", onData);
        proc.stdin?.write("heap\n");
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        // A profiled child must exit by itself to write its profile (the servers exit on SIGINT).
        proc.kill(prof ? "SIGINT" : "SIGKILL");
      }),
  };
}
