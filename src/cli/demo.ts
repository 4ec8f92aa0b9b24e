import { parseConfig } from "../config/index.js";
import { createGateway } from "../gateway.js";
import { createLogger } from "../observe/index.js";
import type { OptionSpecs, OptionValues } from "./options.js";
import { waitForSignal } from "./process.js";

/** The options of `mcpengine demo`, each with its default. */
export const DEMO_OPTIONS = {
  port: {
    type: "string",
    value: "port",
    default: "8080",
    help: "Port of the MCP gateway; 0 picks a free one",
  },
  host: { type: "string", value: "host", default: "127.0.0.1", help: "Address the gateway listens on" },
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
} as const satisfies OptionSpecs;

/**
 * `mcpengine demo`: Smack on embedded Postgres (PGlite, in memory unless
 * `--data-dir`), found through gRPC server reflection, with the gateway in front.
 * Nothing external is needed; `DATABASE_URL` switches Smack to a real Postgres.
 */
export async function runDemo(values: OptionValues<typeof DEMO_OPTIONS>): Promise<number> {
  const { startSmack } = await import("../../examples/smack/server.js");
  const smack = await startSmack({
    port: Number(values["smack-port"]),
    ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  });
  try {
    const config = parseConfig(
      JSON.stringify({
        listen: `${values.host}:${values.port}`,
        backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
      }),
      { source: "demo" },
    );
    const gateway = await createGateway(config, { logger: createLogger({ format: "pretty" }) });
    const listener = await gateway.listen();
    const url = `${listener.url}${config.path}`;
    process.stderr.write(
      `Smack (gRPC) on 127.0.0.1:${smack.port}; MCP gateway on ${url}\n` +
        `Tools: ${gateway.tools.map((t) => t.name).join(", ")}\n` +
        `Try: npx @modelcontextprotocol/inspector --cli ${url} --transport http --method tools/list\n` +
        "Press Ctrl+C to stop.\n",
    );
    await waitForSignal();
    await listener.close();
  } finally {
    await smack.close();
  }
  return 0;
}
