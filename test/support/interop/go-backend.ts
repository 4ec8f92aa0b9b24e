import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The grpc-go server's source (package main). */
const SOURCE = fileURLToPath(new URL("./go/main.go", import.meta.url));
/** The buf image the server loads its descriptors from. */
const IMAGE = fileURLToPath(new URL("../../../gen/image.binpb", import.meta.url));
/** Where Debian's golang-*-dev packages put their sources (GOPATH mode). */
const GOCODE = "/usr/share/gocode";
/** Import path the source is built under in the temporary GOPATH. */
const IMPORT_PATH = "mcpengine-interop-go";
/** Time allowed for build and start-up together. */
const TIMEOUT_MS = 60_000;

let available: boolean | undefined;

/** Whether `go` is on PATH, i.e. whether the grpc-go backend can be built. */
export function goAvailable(): boolean {
  available ??= !spawnSync("go", ["version"], { stdio: "ignore" }).error;
  return available;
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds the server once per content of main.go into a cache directory under
 * the OS temp dir, and returns the binary's path. The binary is written under
 * a temporary name and renamed, so that parallel test workers never see half
 * of one.
 */
async function buildServer(deadline: number): Promise<string> {
  const hash = createHash("sha256")
    .update(await readFile(SOURCE))
    .digest("hex")
    .slice(0, 12);
  const dir = join(tmpdir(), `mcpengine-interop-go-${hash}`);
  const bin = join(dir, "server");
  if (existsSync(bin)) return bin;
  let build = builds.get(bin);
  if (!build) {
    build = compile(dir, bin, deadline).finally(() => builds.delete(bin));
    builds.set(bin, build);
  }
  return build;
}

async function compile(dir: string, bin: string, deadline: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const gopath = await mkdtemp(join(tmpdir(), "mcpengine-interop-go-src-"));
  const partial = `${bin}.${process.pid}.${Date.now()}`;
  try {
    const pkg = join(gopath, "src", IMPORT_PATH);
    await mkdir(pkg, { recursive: true });
    await copyFile(SOURCE, join(pkg, "main.go"));
    const env = {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: `${gopath}:${GOCODE}`,
      // Shared across source versions; Go's build cache is safe to use concurrently.
      GOCACHE: join(tmpdir(), "mcpengine-interop-go-cache"),
      GOFLAGS: "",
      CGO_ENABLED: "0",
    };
    await new Promise<void>((resolve, reject) => {
      execFile(
        "go",
        ["build", "-o", partial, IMPORT_PATH],
        { env, timeout: Math.max(deadline - Date.now(), 1) },
        (error, stdout, stderr) => {
          if (!error) return resolve();
          const why = error.killed ? "timed out" : `failed (exit ${error.code})`;
          reject(new Error(`go build ${why}:\n${stdout}${stderr}`));
        },
      );
    });
    await rename(partial, bin);
    return bin;
  } finally {
    await rm(gopath, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

/** Resolves when the process has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts the grpc-go backend: mcpengine.interop.v1.InteropService plus grpc-go's
 * server reflection (v1alpha), on 127.0.0.1. Builds the binary first unless a
 * build of the current source is cached. Rejects, with the build's or the
 * server's output, when it is not listening within 60 seconds.
 */
export async function startGoBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const deadline = Date.now() + TIMEOUT_MS;
  const bin = await buildServer(deadline);
  const child = spawn(bin, ["-image", IMAGE], { stdio: ["ignore", "pipe", "pipe"] });
  // Don't leave the server behind if this process exits without closing it.
  const reap = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", reap);
  child.once("exit", () => process.off("exit", reap));
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`grpc-go backend ${why}\n${stdout}${stderr}`));
    };
    const timer = setTimeout(() => fail("did not start in time"), Math.max(deadline - Date.now(), 1));
    child.once("error", (e) => fail(`failed to start: ${e.message}`));
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited (${signal ?? code}) before listening`);
    child.once("exit", onExit);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const m = /^listening (\d+)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const done = exited(child);
      child.kill("SIGTERM");
      await done;
    },
  };
}
