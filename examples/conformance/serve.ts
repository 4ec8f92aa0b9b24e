/**
 * `npm run conformance:serve`: the conformance fixture backend behind the
 * gateway, without auth, on 127.0.0.1:${PORT:-3100} (MCP endpoint /mcp).
 * The gateway finds the service through gRPC server reflection, as it would
 * any other backend. Stays in the foreground until interrupted.
 */
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { startEverything } from "./server.js";

const port = Number(process.env.PORT ?? 3100);
const backend = await startEverything();
const config = parseConfig(
  JSON.stringify({
    listen: `127.0.0.1:${port}`,
    serverName: "mcpengine-conformance",
    backends: [{ name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" }],
  }),
  { source: "conformance" },
);
const gateway = await createGateway(config);
const listener = await gateway.listen();
process.stderr.write(
  `conformance fixture on 127.0.0.1:${backend.port}; MCP endpoint ${listener.url}${config.path}\n`,
);
const stop = async () => {
  await listener.close();
  await backend.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
