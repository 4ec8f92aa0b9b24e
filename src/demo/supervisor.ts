import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { banner } from "./banner.js";
import { isPartMessage } from "./parts.js";
import { DemoError, portClash, probePort } from "./ports.js";
import { type DemoPart, type DemoSettings, issuerUrl, LOOPBACK, mcpUrl, PART_NAME } from "./settings.js";

/** Options of {@link superviseDemo}. */
export interface SupervisorOptions {
  /** The `mcpengine` launcher each part is started with (`bin/mcpengine.js`). */
  readonly bin: string;
  /** How long a part may take to be ready. Default 60 s (PGlite's first start is the slow one). */
  readonly readyTimeoutMs?: number;
  /** How long the parts get to stop before they are killed. Default 10 s. */
  readonly stopTimeoutMs?: number;
}

/** Labels of the parts' log lines, padded so the bars line up. */
const LABEL: Readonly<Record<DemoPart, string>> = { smack: "smack  ", idp: "idp    ", gateway: "gateway" };

/**
 * `mcpengine demo`: starts Smack, the identity provider (unless `--no-auth`)
 * and the gateway as three processes, as a deployment would run them, each
 * `mcpengine demo --only <part>` of the same launcher. Their log lines are
 * shown prefixed with the part's name; once all are ready the banner goes to
 * stdout. Runs until SIGINT or SIGTERM (or until a part dies), then stops every
 * part and waits for each to exit. Returns the exit code: 0 after a stop asked
 * for, 1 when a part could not start or died.
 */
export async function superviseDemo(settings: DemoSettings, options: SupervisorOptions): Promise<number> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let s: DemoSettings;
  try {
    s = await checkPorts(settings);
  } catch (err) {
    if (!(err instanceof DemoError)) throw err;
    fail(err.message);
    return 1;
  }

  const parts: Part[] = [];
  const stop = stopSignal(() => parts);
  const start = (part: DemoPart, at: DemoSettings) => {
    const p = startPart(part, at, options.bin, readyTimeoutMs);
    parts.push(p);
    return p;
  };

  let url: string;
  let smackAt: string;
  try {
    const smack = start("smack", s);
    const idp = s.auth ? start("idp", s) : undefined;
    const [smackPort, idpPort] = await stop.race(Promise.all([smack.ready, idp ? idp.ready : 0]));
    s = { ...s, smackPort, idpPort };
    const gateway = start("gateway", s);
    await stop.race(gateway.ready);
    url = mcpUrl(s);
    smackAt = `${LOOPBACK}:${smackPort}`;
  } catch (err) {
    if (!(err instanceof Stopped)) fail(err instanceof Error ? err.message : String(err));
    await stopParts(parts, options.stopTimeoutMs);
    stop.dispose();
    return err instanceof Stopped ? 0 : 1;
  }

  process.stdout.write(
    banner({
      url,
      ...(s.auth ? { issuer: issuerUrl(s.idpPort) } : {}),
      smack: `${smackAt} (gRPC), ${database(s)}`,
      node: process.execPath,
      bin: options.bin,
    }),
  );

  const died = Promise.race(parts.map((p) => p.exited.then((exit) => ({ part: p, exit }))));
  let outcome = await Promise.race([stop.requested.then(() => undefined), died]);
  // Ctrl-C reaches every process of the terminal at once: a part may be gone before our own handler ran.
  if (outcome && (await stop.within(500))) outcome = undefined;
  if (outcome)
    fail(
      `${PART_NAME[outcome.part.part]} stopped unexpectedly (${describeExit(outcome.part.exitInfo)}); stopping the demo`,
    );
  const clean = await stopParts(parts, options.stopTimeoutMs);
  stop.dispose();
  if (!outcome && clean) process.stderr.write("mcpengine demo: stopped\n");
  return outcome || !clean ? 1 : 0;
}

/** One part's process: ready with its port, and its exit. */
interface Part {
  readonly part: DemoPart;
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  readonly exited: Promise<void>;
  /** How it ended, once it has. */
  readonly exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

function startPart(part: DemoPart, s: DemoSettings, bin: string, readyTimeoutMs: number): Part {
  const args = [
    bin,
    "demo",
    "--only",
    part,
    "--host",
    s.host,
    "--port",
    String(s.port),
    "--idp-port",
    String(s.idpPort),
    "--smack-port",
    String(s.smackPort),
    ...(s.auth ? [] : ["--no-auth"]),
    ...(s.dataDir ? ["--data-dir", s.dataDir] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      process.stderr.write(`${LABEL[part]} │ ${line}\n`);
    });
  }
  let exitInfo: Part["exitInfo"];
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
  });
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${PART_NAME[part]} was not ready within ${readyTimeoutMs / 1000}s`)),
      readyTimeoutMs,
    );
    child.on("message", (message: unknown) => {
      if (!isPartMessage(message)) return;
      clearTimeout(timer);
      if (message.kind === "ready") resolve(message.port);
      else reject(new Error(message.message));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${PART_NAME[part]}: ${err.message}`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${PART_NAME[part]} exited before it was ready (${describeExit(exitInfo)})`));
    });
  });
  // Rejections are read by whoever awaits `ready`; a part never awaited must not crash the supervisor.
  ready.catch(() => {});
  return {
    part,
    child,
    ready,
    exited,
    get exitInfo() {
      return exitInfo;
    },
  };
}

/**
 * Stops every part still running with SIGTERM (Ctrl-C in a terminal has
 * already sent each its SIGINT; a part ignores the second), waits for all of
 * them, and kills those still there after `timeoutMs`. True when every part
 * ended by itself with exit code 0 (or of the signal that stopped it).
 */
async function stopParts(parts: readonly Part[], timeoutMs = 10_000): Promise<boolean> {
  for (const p of parts) if (!p.exitInfo) p.child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  const all = Promise.all(parts.map((p) => p.exited));
  if ((await Promise.race([all, late])) === "late") {
    for (const p of parts) {
      if (p.exitInfo) continue;
      fail(`${PART_NAME[p.part]} did not stop within ${timeoutMs / 1000}s: killing it`);
      p.child.kill("SIGKILL");
    }
    await all;
  }
  clearTimeout(timer);
  return parts.every(
    (p) => p.exitInfo?.code === 0 || p.exitInfo?.signal === "SIGINT" || p.exitInfo?.signal === "SIGTERM",
  );
}

/** Thrown by `race` when a stop was asked for first. */
class Stopped extends Error {}

/**
 * SIGINT or SIGTERM asks the demo to stop; a second one kills every part at
 * once and exits with 128 + the signal's number.
 */
function stopSignal(parts: () => readonly Part[]) {
  let signalled: NodeJS.Signals | undefined;
  let resolve: () => void = () => {};
  const requested = new Promise<void>((r) => {
    resolve = r;
  });
  let at = 0;
  const on = (signal: NodeJS.Signals) => {
    // `timeout` and some terminals deliver one stop twice (to the process and to its group): not an "again".
    if (signalled && Date.now() - at < 500) return;
    if (signalled) {
      fail(`${signal} again: killing every part`);
      for (const p of parts()) if (!p.exitInfo) p.child.kill("SIGKILL");
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    signalled = signal;
    at = Date.now();
    process.stderr.write(`\nmcpengine demo: ${signal}: stopping every part (again to kill them)\n`);
    resolve();
  };
  const onInt = () => on("SIGINT");
  const onTerm = () => on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    requested,
    /** `work`, unless a stop is asked for first. */
    race<T>(work: Promise<T>): Promise<T> {
      return Promise.race([
        work,
        requested.then(() => {
          throw new Stopped();
        }),
      ]);
    },
    /** Whether a stop is asked for within `ms`. */
    within(ms: number): Promise<boolean> {
      return new Promise((done) => {
        const timer = setTimeout(() => done(false), ms);
        void requested.then(() => {
          clearTimeout(timer);
          done(true);
        });
      });
    },
    dispose() {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}

/**
 * Checks that every fixed port is free (one clear message naming the port and
 * its option when one is not), and picks the gateway's port when it is 0: the
 * identity provider must know the gateway's URL before the gateway starts.
 */
async function checkPorts(s: DemoSettings): Promise<DemoSettings> {
  const fixed: [DemoPart, number][] = [
    ["gateway", s.port],
    ...(s.auth ? [["idp", s.idpPort] as [DemoPart, number]] : []),
    ["smack", s.smackPort],
  ];
  const given = fixed.filter(([, port]) => port !== 0);
  for (const [i, [part, port]] of given.entries()) {
    const other = given.slice(i + 1).find(([, p]) => p === port);
    if (other) {
      throw portClash(part, other[0], port);
    }
  }
  const port = await probePort("gateway", s.host, s.port);
  if (s.auth && s.idpPort !== 0) await probePort("idp", LOOPBACK, s.idpPort);
  if (s.smackPort !== 0) await probePort("smack", LOOPBACK, s.smackPort);
  return { ...s, port };
}

function database(s: DemoSettings): string {
  if (process.env.DATABASE_URL) return "Postgres at DATABASE_URL";
  return s.dataDir ? `embedded Postgres (PGlite) in ${s.dataDir}` : "embedded Postgres (PGlite) in memory";
}

function describeExit(exit: Part["exitInfo"]): string {
  if (!exit) return "still running";
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function fail(message: string): void {
  process.stderr.write(`mcpengine demo: ${message}\n`);
}
