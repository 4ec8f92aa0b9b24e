import { Server, ServerCredentials } from "@grpc/grpc-js";
import { EverythingServiceService } from "../../gen/grpc-js/conformance/v1/everything.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { addReflection } from "../shared/reflection.js";
import { createEverythingService } from "./service.js";

/** A running fixture backend. */
export interface RunningEverything {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the conformance fixture (EverythingService, with server reflection) on 127.0.0.1. */
export async function startEverything(port = 0): Promise<RunningEverything> {
  const server = new Server();
  server.addService(EverythingServiceService, createEverythingService());
  addReflection(server, ["conformance.v1.EverythingService"]);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}

/** The fixture behind the gateway, as the conformance suite sees it. */
export interface ConformanceServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:3100/mcp. */
  readonly url: string;
  readonly backendPort: number;
  close(): Promise<void>;
}

/**
 * Starts the fixture and a gateway in front of it, without auth, on
 * 127.0.0.1:`port` (0 picks a free one). The gateway finds the service through
 * gRPC server reflection, as it would any other backend.
 */
export async function startConformanceServer(port: number): Promise<ConformanceServer> {
  const backend = await startEverything();
  const config = parseConfig(
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      serverName: "mcpengine-conformance",
      backends: [
        { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
      ],
    }),
    { source: "conformance" },
  );
  const listener = await (await createGateway(config)).listen();
  return {
    url: `${listener.url}${config.path}`,
    backendPort: backend.port,
    async close() {
      await listener.close();
      await backend.close();
    },
  };
}
