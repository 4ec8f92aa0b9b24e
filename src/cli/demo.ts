import { parseArgs } from "node:util";
import { parseConfig } from "../config/index.js";
import { createGateway } from "../gateway.js";
import { waitForSignal } from "./main.js";

/**
 * `mcpengine demo`: Smack on embedded Postgres (PGlite, in memory unless
 * `--data-dir`), found through gRPC server reflection, with the gateway in front.
 * Nothing external is needed; `DATABASE_URL` switches Smack to a real Postgres.
 */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      "smack-port": { type: "string", default: "0" },
      "data-dir": { type: "string" },
    },
  });
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
    const gateway = await createGateway(config);
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
