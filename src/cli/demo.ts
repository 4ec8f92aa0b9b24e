import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_PARTS, type DemoSettings, isDemoPart, runPart, superviseDemo } from "../demo/index.js";
import type { OptionSpecs, OptionValues } from "./options.js";

/** The options of `mcpengine demo`, each with its default. */
export const DEMO_OPTIONS = {
  port: {
    type: "string",
    value: "port",
    default: "8080",
    help: "Port of the MCP gateway; 0 picks a free one",
  },
  host: { type: "string", value: "host", default: "127.0.0.1", help: "Address the gateway listens on" },
  "idp-port": {
    type: "string",
    value: "port",
    default: "8090",
    help: "Port of the demo's OpenID provider (its login page); 0 picks a free one",
  },
  "smack-port": {
    type: "string",
    value: "port",
    default: "0",
    help: "Port of Smack's gRPC server; 0 picks a free one",
  },
  "data-dir": {
    type: "string",
    value: "dir",
    otherwise: "in memory",
    help: "Keep Smack's PGlite database in this folder",
  },
  "no-auth": {
    type: "boolean",
    help: "No login: no identity provider, and the gateway serves every tool to anyone",
  },
  only: {
    type: "string",
    value: "part",
    otherwise: "all three",
    help: `Run one part in the foreground: ${DEMO_PARTS.join(", ")} (how the demo starts each process)`,
  },
} as const satisfies OptionSpecs;

/**
 * `mcpengine demo`: Smack on embedded Postgres (PGlite, in memory unless
 * `--data-dir`; `DATABASE_URL` for a real Postgres), a development OpenID
 * provider and the gateway with auth on, as three processes (src/demo).
 * `--only <part>` runs one of them, which is how the demo starts each.
 */
export async function runDemo(values: OptionValues<typeof DEMO_OPTIONS>): Promise<number> {
  for (const name of ["port", "idp-port", "smack-port"] as const) {
    if (portNumber(values[name]) === undefined)
      return usage(`--${name} "${values[name]}" is not a port (0-65535)`);
  }
  const settings: DemoSettings = {
    host: values.host,
    port: portNumber(values.port) ?? 0,
    idpPort: portNumber(values["idp-port"]) ?? 0,
    smackPort: portNumber(values["smack-port"]) ?? 0,
    auth: !values["no-auth"],
    ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
  };
  const only = values.only;
  if (only === undefined) return superviseDemo(settings, { bin: launcher() });
  if (!isDemoPart(only)) return usage(`--only "${only}" is not one of ${DEMO_PARTS.join(", ")}`);
  // Run alone, a part must be told where the others are: tokens name the gateway's URL.
  if (only !== "smack" && settings.auth && settings.port === 0) {
    return usage(`--only ${only} needs the gateway's --port (not 0): tokens are issued for its URL`);
  }
  if (only === "gateway" && (settings.smackPort === 0 || (settings.auth && settings.idpPort === 0))) {
    return usage(
      "--only gateway needs the --smack-port (and without --no-auth the --idp-port) of the running parts",
    );
  }
  return runPart(only, settings);
}

function usage(message: string): number {
  process.stderr.write(`mcpengine demo: ${message}\n`);
  return 2;
}

function portNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}

/**
 * This checkout's `bin/mcpengine.js`, which starts each part (and which host
 * configs run): found above this module, from src/cli as from dist/src/cli.
 */
function launcher(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    const bin = join(dir, "bin", "mcpengine.js");
    if (existsSync(bin)) return realpathSync(bin);
  }
  throw new Error(`no bin/mcpengine.js above ${fileURLToPath(import.meta.url)}`);
}
