// The proxy rows of `npm run bench`: a stdio host's round trip through `mcpengine proxy` and through
// mcp-remote to the same gateway, against a direct HTTP POST of the same call, interleaved.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median } from "./load.js";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;
/** The era today's stdio hosts ask for; both proxies then hold a Streamable HTTP session. */
const HOST_VERSION = "2025-11-25";
const CALL_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const root = fileURLToPath(new URL("../", import.meta.url));
/**
 * What `bin/mcpengine.js` does with a fresh build: import the compiled CLI and run it. The bench runs
 * it directly because the bin falls back to the TypeScript sources (through tsx, several times the
 * CPU) as soon as any source is newer than dist/, e.g. edited during the run; like the gateway
 * (servers/gateway.ts), the proxy runs the build `npm run bench` made.
 */
const RUN_BUILT_CLI =
  "const { main } = await import(process.env.MCPENGINE_BENCH_CLI); process.exitCode = await main(process.argv.slice(1));";

/** Options of {@link measureProxies}. */
export interface ProxyBenchOptions {
  /** The gateway's MCP endpoint (no auth; sessions on). */
  readonly url: string;
  /** Tool name and arguments of the small unary call. */
  readonly tool: string;
  readonly args: object;
  /** Measured round trips per lane (each lane makes this many). */
  readonly calls: number;
  /** Unmeasured round trips per lane first, so every process has compiled its path. */
  readonly warmup: number;
  /** CPU per call is read per block; the median of the blocks is reported. */
  readonly blocks: number;
  /** Measuring stops after this long even if fewer calls were made (`calls` in the result says). */
  readonly maxSeconds: number;
  /** CPU the proxies are pinned to (the servers under test). */
  readonly cpu: number;
  /** Writes a `--cpu-prof` profile of each proxy into this directory. */
  readonly profileDir?: string;
}

/** One proxy's figures. */
export interface ProxyFigures {
  readonly name: string;
  readonly p50Ms: number;
  /** p50 of this proxy's round trips minus p50 of the direct ones (same interleaved run). */
  readonly addedP50Ms: number;
  /** Median over the iterations of (this proxy's round trip − the direct one next to it). */
  readonly pairedAddedMs: number;
  /** Median over the blocks of the proxy process's CPU per call. */
  readonly cpuPerCallUs: number;
  readonly cpuPerCallBlocksUs: readonly number[];
}

/** What {@link measureProxies} found. */
export interface ProxyBench {
  /** Measured round trips per lane. */
  readonly calls: number;
  readonly directP50Ms: number;
  readonly ours: ProxyFigures;
  readonly remote: ProxyFigures;
}

/** A stdio proxy driven the way a host drives it: one JSON-RPC line out, wait for the line with its id. */
interface StdioProxy {
  readonly name: string;
  request(method: string, params: string): Promise<string>;
  notify(method: string): void;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** One way of making the call, timed by the loop. */
interface Lane {
  readonly name: string;
  readonly call: () => Promise<string>;
  readonly times: number[];
}

/**
 * Starts our proxy and mcp-remote against `url`, opens a session through
 * each, and times sequential `tools/call` round trips through both and
 * directly over HTTP in rotating order, so noise on the machine hits all
 * three alike. CPU per call is each proxy process's utime+stime over a block
 * of calls; the gateway's, the same for all three, is not counted.
 */
export async function measureProxies(options: ProxyBenchOptions): Promise<ProxyBench> {
  const homes: string[] = [];
  const home = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    homes.push(dir);
    return dir;
  };
  const prof = (name: string) =>
    options.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
      : [];
  const mcpRemote = join(
    dirname(createRequire(import.meta.url).resolve("mcp-remote/package.json")),
    "dist",
    "proxy.js",
  );
  const started: StdioProxy[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const cli = join(root, "dist", "src", "cli", "main.js");
    if (!existsSync(cli)) throw new Error("no build in dist/: run `npm run build` first");
    const ours = startProxy(
      "ours",
      [...prof("ours"), "--input-type=module", "-e", RUN_BUILT_CLI, "proxy", options.url, "--no-browser"],
      { MCPENGINE_HOME: home("mcpengine-bench-"), MCPENGINE_BENCH_CLI: pathToFileURL(cli).href },
      options.cpu,
    );
    started.push(ours);
    const remote = startProxy(
      "mcp-remote",
      [...prof("mcp-remote"), mcpRemote, options.url, "--transport", "http-only"],
      { MCP_REMOTE_CONFIG_DIR: home("mcp-remote-bench-") },
      options.cpu,
    );
    started.push(remote);
    const callParams = JSON.stringify({ name: options.tool, arguments: options.args });
    for (const p of [ours, remote]) await openThroughProxy(p);
    const direct = await openDirect(agent, new URL(options.url));
    let directId = 0;
    const oursLane: Lane = { name: "ours", call: () => ours.request("tools/call", callParams), times: [] };
    const remoteLane: Lane = {
      name: "mcp-remote",
      call: () => remote.request("tools/call", callParams),
      times: [],
    };
    const directLane: Lane = {
      name: "direct",
      call: () => direct(`{"jsonrpc":"2.0","id":${++directId},"method":"tools/call","params":${callParams}}`),
      times: [],
    };
    const lanes = [oursLane, remoteLane, directLane];
    /** One call on each lane; the order rotates, so that no lane always runs right after the same other. */
    const iterate = async (i: number, record: boolean) => {
      for (let k = 0; k < lanes.length; k++) {
        const lane = lanes[(i + k) % lanes.length] as Lane;
        const start = process.hrtime.bigint();
        const reply = await lane.call();
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        if (!reply.includes('"structuredContent"') || reply.includes('"isError":true')) {
          throw new Error(`${lane.name} answered the call with ${reply.slice(0, 300)}`);
        }
        if (record) lane.times.push(ms);
      }
    };
    for (let i = 0; i < options.warmup; i++) await iterate(i, false);
    const cpu = { ours: [] as number[], remote: [] as number[] };
    const perBlock = Math.max(1, Math.ceil(options.calls / options.blocks));
    const deadline = Date.now() + options.maxSeconds * 1000;
    let done = 0;
    while (done < options.calls && Date.now() < deadline) {
      const o0 = ours.cpuSeconds();
      const r0 = remote.cpuSeconds();
      let n = 0;
      while (n < perBlock && done + n < options.calls && Date.now() < deadline)
        await iterate(done + n++, true);
      if (n === 0) break;
      cpu.ours.push(((ours.cpuSeconds() - o0) / n) * 1e6);
      cpu.remote.push(((remote.cpuSeconds() - r0) / n) * 1e6);
      done += n;
    }
    const directP50 = median(directLane.times);
    const figures = (name: string, lane: Lane, cpuBlocks: number[]): ProxyFigures => ({
      name,
      p50Ms: median(lane.times),
      addedP50Ms: median(lane.times) - directP50,
      pairedAddedMs: median(lane.times.map((t, i) => t - (directLane.times[i] ?? 0))),
      cpuPerCallUs: median(cpuBlocks),
      cpuPerCallBlocksUs: cpuBlocks.map((c) => Math.round(c)),
    });
    return {
      calls: done,
      directP50Ms: directP50,
      ours: figures("X1 our proxy (stdio → gateway)", oursLane, cpu.ours),
      remote: figures("X2 mcp-remote (stdio → gateway)", remoteLane, cpu.remote),
    };
  } finally {
    agent.destroy();
    await Promise.all(started.map((p) => p.stop()));
    for (const dir of homes) rmSync(dir, { recursive: true, force: true });
  }
}

/** The host's side of the MCP lifecycle (basic/lifecycle): initialize, then notifications/initialized. */
async function openThroughProxy(proxy: StdioProxy): Promise<void> {
  const reply = await proxy.request(
    "initialize",
    JSON.stringify({
      protocolVersion: HOST_VERSION,
      capabilities: {},
      clientInfo: { name: "bench-host", version: "1" },
    }),
  );
  if (!reply.includes('"result"')) throw new Error(`${proxy.name}: initialize answered ${reply}`);
  proxy.notify("notifications/initialized");
}

/**
 * Opens a session on the gateway over plain HTTP and returns a function that
 * POSTs one JSON-RPC body in it and resolves with the reply body: the request
 * each proxy makes for a host's call.
 */
async function openDirect(agent: Agent, url: URL): Promise<(body: string) => Promise<string>> {
  const init = await post(
    agent,
    url,
    {},
    {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: HOST_VERSION,
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    },
  );
  const session = init.headers["mcp-session-id"];
  if (typeof session !== "string") throw new Error(`initialize answered without a session: ${init.body}`);
  const version = (JSON.parse(init.body) as { result?: { protocolVersion?: string } }).result
    ?.protocolVersion;
  const headers = { "mcp-session-id": session, "mcp-protocol-version": version ?? HOST_VERSION };
  await post(agent, url, headers, { jsonrpc: "2.0", method: "notifications/initialized" });
  return async (body) => (await post(agent, url, headers, body)).body;
}

/** One POST on a keep-alive agent; resolves with the headers and body text of a 2xx answer. */
function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string | object,
): Promise<{ headers: NodeJS.Dict<string | string[]>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          (res.statusCode ?? 0) < 300
            ? resolve({ headers: res.headers, body: text })
            : reject(new Error(`direct POST answered ${res.statusCode}: ${text.slice(0, 300)}`)),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(typeof body === "string" ? body : JSON.stringify(body));
  });
}

/**
 * Spawns `node <args>` pinned to `cpu` (taskset execs in place, so the pid is
 * node's own) with its stdio piped to this process, the host.
 */
function startProxy(name: string, args: string[], env: Record<string, string>, cpu: number): StdioProxy {
  const proc: ChildProcessWithoutNullStreams = spawn(
    "taskset",
    ["-c", String(cpu), process.execPath, ...args],
    { env: { ...process.env, ...env, NODE_ENV: "production" }, stdio: "pipe" },
  );
  const pid = proc.pid ?? 0;
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  proc.stdin.on("error", () => {});
  let nextId = 0;
  let waiting: { id: number; resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  let tail = "";
  /** Why the proxy can no longer answer, once it cannot. */
  let gone: string | undefined;
  const fail = (why: string) => {
    gone ??= why;
    const w = waiting;
    waiting = undefined;
    w?.reject(new Error(`${name}: ${why}\n${stderr}`));
  };
  proc.stdout.setEncoding("utf8");
  proc.stdout.on("data", (chunk: string) => {
    let text = tail + chunk;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n")) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      // Parsed as a host would; notifications and other ids pass by.
      let id: unknown;
      try {
        id = (JSON.parse(line) as { id?: unknown }).id;
      } catch {
        fail(`wrote a line that is not JSON: ${line.slice(0, 200)}`);
        continue;
      }
      if (waiting !== undefined && id === waiting.id) {
        const w = waiting;
        waiting = undefined;
        w.resolve(line);
      }
    }
    tail = text;
  });
  proc.once("exit", (code, signal) => fail(`exited (${signal ?? code})`));
  proc.once("error", (err) => fail(`could not start: ${err.message}`));
  const stat = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return {
    name,
    request(method, params) {
      const id = ++nextId;
      if (gone !== undefined) return Promise.reject(new Error(`${name}: ${gone}\n${stderr}`));
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => fail(`no answer to ${method} in ${CALL_TIMEOUT_MS} ms`),
          method === "initialize" ? START_TIMEOUT_MS : CALL_TIMEOUT_MS,
        );
        waiting = {
          id,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        proc.stdin.write(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}\n`);
      });
    },
    notify(method) {
      proc.stdin.write(`{"jsonrpc":"2.0","method":"${method}"}\n`);
    },
    cpuSeconds() {
      const f = stat();
      return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
    },
    // stdin closing is how a host ends a stdio server (basic/transports "stdio"); a clean exit also
    // lets --cpu-prof write its profile. A proxy still running after that is killed.
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
        proc.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        proc.stdin.end();
      }),
  };
}
