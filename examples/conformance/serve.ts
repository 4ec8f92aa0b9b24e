/**
 * `npm run conformance:serve`: the conformance fixture backend behind the
 * gateway, without auth, on 127.0.0.1:${PORT:-3100} (MCP endpoint /mcp).
 * The gateway finds the service through gRPC server reflection, as it would
 * any other backend. Stays in the foreground until interrupted.
 */
import { startConformanceServer } from "./server.js";

const server = await startConformanceServer(Number(process.env.PORT ?? 3100));
process.stderr.write(`conformance fixture on 127.0.0.1:${server.backendPort}; MCP endpoint ${server.url}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
