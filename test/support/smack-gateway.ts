import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";

/** Smack (on PGlite) behind a gateway without auth, found by reflection, both on 127.0.0.1. */
export interface SmackGateway {
  readonly smack: RunningSmack;
  readonly http: HttpListener;
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`. */
  readonly mcpUrl: string;
  close(): Promise<void>;
}

/** Starts Smack and the gateway in front of it, the way most end-to-end tests need them. */
export async function startSmackGateway(): Promise<SmackGateway> {
  const smack = await startSmack({ port: 0 });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
    }),
  );
  const http = await (await createGateway(config)).listen();
  return {
    smack,
    http,
    mcpUrl: `${http.url}/mcp`,
    async close() {
      await http.close();
      await smack.close();
    },
  };
}
