import { join } from "node:path";
import { createGateway } from "../gateway.js";
import { createLogger } from "../observe/index.js";
import { defaultHome } from "../proxy/oauth/store.js";
import { isAddressInUse, portInUse } from "./ports.js";
import { type DemoPart, type DemoSettings, gatewayConfig, LOOPBACK, mcpUrl } from "./settings.js";

/**
 * What a part tells the supervisor that started it, over Node's IPC channel:
 * it listens (and on which port), or it could not start (and why).
 */
export type PartMessage =
  | { readonly kind: "ready"; readonly port: number }
  | { readonly kind: "failed"; readonly message: string };

/** Whether an IPC message is a {@link PartMessage}. */
export function isPartMessage(value: unknown): value is PartMessage {
  if (typeof value !== "object" || value === null || !("kind" in value)) return false;
  switch (value.kind) {
    case "ready":
      return "port" in value && typeof value.port === "number";
    case "failed":
      return "message" in value && typeof value.message === "string";
    default:
      return false;
  }
}

/** A part that listens: its port, a line for its log (unless it logs its own), and how to stop it. */
interface Started {
  readonly port: number;
  readonly line?: string;
  close(): Promise<void>;
}

/** How long a part may take to stop before it exits anyway. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * Runs one part of the demo in this process until SIGINT or SIGTERM, or until
 * the supervisor goes away (its IPC channel closes: no part outlives the demo,
 * even one killed with SIGKILL). Started by the supervisor, it reports over
 * IPC; run by hand (`mcpengine demo --only idp`), it just logs. Returns the
 * exit code: 0 after a clean stop, 1 when it could not start.
 */
export async function runPart(part: DemoPart, settings: DemoSettings): Promise<number> {
  const supervised = typeof process.send === "function";
  // Sending or disconnecting on a channel already closed (the supervisor died) would throw.
  const tell = (message: PartMessage) => {
    if (process.connected) process.send?.(message);
  };
  const letGo = () => {
    if (process.connected) process.disconnect();
  };
  if (supervised) {
    // Our logs go to pipes the supervisor reads; once it is gone, writing them fails (EPIPE).
    // Stopping cleanly (PGlite closing its folder) matters more than those lines.
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  }
  const stop = stopRequested();
  let started: Started;
  try {
    started = await start(part, settings);
  } catch (err) {
    const failure = isAddressInUse(err)
      ? portInUse(part, hostOf(part, settings), portOf(part, settings))
      : err;
    const message = failure instanceof Error ? failure.message : String(failure);
    // The supervisor prints the message; a failure nobody foresaw also gets its stack in the log.
    if (supervised && failure === err && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    if (supervised) tell({ kind: "failed", message });
    else process.stderr.write(`mcpengine demo: ${message}\n`);
    stop.dispose();
    letGo();
    return 1;
  }
  if (started.line) process.stderr.write(`${started.line}\n`);
  tell({ kind: "ready", port: started.port });
  await stop.requested;
  const late = setTimeout(() => {
    process.stderr.write(`did not stop within ${STOP_TIMEOUT_MS / 1000}s; exiting anyway\n`);
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  late.unref();
  await started.close();
  clearTimeout(late);
  stop.dispose();
  // The channel keeps the event loop alive: let go of it so the process can end.
  letGo();
  return 0;
}

function hostOf(part: DemoPart, s: DemoSettings): string {
  return part === "gateway" ? s.host : LOOPBACK;
}

function portOf(part: DemoPart, s: DemoSettings): number {
  return part === "gateway" ? s.port : part === "idp" ? s.idpPort : s.smackPort;
}

function start(part: DemoPart, s: DemoSettings): Promise<Started> {
  switch (part) {
    case "smack":
      return startSmackPart(s);
    case "idp":
      return startIdpPart(s);
    case "gateway":
      return startGatewayPart(s);
  }
}

/** Smack on PGlite (in memory, or `--data-dir`) or on `DATABASE_URL`, seeded with the demo's messages. */
async function startSmackPart(s: DemoSettings): Promise<Started> {
  // Loaded here, so the other parts (and every other command) never load PGlite.
  const { startSmack } = await import("../../examples/smack/server.js");
  const databaseUrl = process.env.DATABASE_URL;
  const smack = await startSmack({
    port: s.smackPort,
    host: LOOPBACK,
    seed: true,
    ...(s.dataDir ? { dataDir: s.dataDir } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  const where =
    smack.database === "postgres"
      ? "Postgres (DATABASE_URL)"
      : `PGlite ${s.dataDir ? `in ${s.dataDir}` : "in memory"}`;
  const seeded = smack.seeded > 0 ? `${smack.seeded} seed messages written` : "seed messages already there";
  return {
    port: smack.port,
    line: `Smack (gRPC) on ${smack.address}, ${where}; ${seeded}`,
    close: () => smack.close(),
  };
}

/**
 * The identity provider, issuing tokens for the gateway's MCP URL. Client
 * registrations are kept under MCPENGINE_HOME (where the proxy keeps its
 * tokens) when the port is fixed, so hosts set up once keep working after a restart.
 */
async function startIdpPart(s: DemoSettings): Promise<Started> {
  // Loaded here: oidc-provider is big, and warns on Node 20 when loaded.
  const { startDemoIdp } = await import("./idp.js");
  const clientsFile =
    s.idpPort === 0 ? undefined : join(defaultHome(), "demo-idp", `${LOOPBACK}-${s.idpPort}`, "clients.json");
  const idp = await startDemoIdp({
    port: s.idpPort,
    host: LOOPBACK,
    resource: mcpUrl(s),
    ...(clientsFile ? { clientsFile } : {}),
  });
  return {
    port: Number(new URL(idp.issuer).port),
    line: `OpenID provider ${idp.issuer} issuing tokens for ${mcpUrl(s)}`,
    close: () => idp.close(),
  };
}

/** The gateway in front of Smack: auth against the demo's provider unless `--no-auth`. */
async function startGatewayPart(s: DemoSettings): Promise<Started> {
  const config = gatewayConfig(s);
  const gateway = await createGateway(config, { logger: createLogger({ format: "pretty" }) });
  const listener = await gateway.listen().catch(async (err: unknown) => {
    await gateway.close();
    throw err;
  });
  // The gateway logs its own start-up line (URL, tools, auth, issuer).
  return {
    port: Number(new URL(listener.url).port),
    async close() {
      await listener.drain(2_000);
      await listener.close();
    },
  };
}

/**
 * Resolves once the part is asked to stop: SIGINT (Ctrl-C reaches every process
 * of the terminal's group), SIGTERM (from the supervisor), or the supervisor's
 * IPC channel closing. Later signals are ignored while the part stops.
 */
function stopRequested(): { requested: Promise<void>; dispose(): void } {
  let done: () => void = () => {};
  const requested = new Promise<void>((resolve) => {
    done = resolve;
  });
  const onStop = () => done();
  process.on("SIGINT", onStop);
  process.on("SIGTERM", onStop);
  process.on("disconnect", onStop);
  return {
    requested,
    dispose() {
      process.off("SIGINT", onStop);
      process.off("SIGTERM", onStop);
      process.off("disconnect", onStop);
    },
  };
}
