import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "../config/index.js";
import { createGateway } from "../gateway.js";
import { runDemo } from "./demo.js";
import { printTools } from "./tools.js";

const USAGE = `Usage: mcpengine <command> [options]

Commands:
  serve --config mcpengine.yaml     Run the MCP gateway in front of the configured gRPC backends
  tools --config mcpengine.yaml     Print the tool catalog (names, descriptions, schemas) [--json]
  demo [--port 8080]                Run Smack (embedded Postgres) with the gateway in front of it
`;

/** The `mcpengine` command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
        return await serve(rest);
      case "tools":
        return await tools(rest);
      case "demo":
        return await runDemo(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`mcpengine: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    const message =
      err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`mcpengine: ${message}\n`);
    return 1;
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" } } });
  const config = await loadConfigFile(values.config ?? "mcpengine.yaml");
  const gateway = await createGateway(config);
  const listener = await gateway.listen();
  process.stderr.write(
    `mcpengine: ${gateway.tools.length} tools, MCP endpoint ${listener.url}${config.path}\n`,
  );
  await waitForSignal();
  await listener.close();
  return 0;
}

async function tools(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, json: { type: "boolean" } },
  });
  const config = await loadConfigFile(values.config ?? "mcpengine.yaml");
  const gateway = await createGateway(config);
  printTools(gateway.tools, values.json === true);
  return 0;
}

/** Resolves on SIGINT or SIGTERM so the caller can shut down gracefully. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
