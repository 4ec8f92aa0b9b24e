import type { IncomingMessage, ServerResponse } from "node:http";
import type { Identity, ResourceServer } from "../auth/index.js";
import { type McpServer, type StatelessExchange, statelessHttpStatus } from "../mcp/index.js";
import type { PostRoute } from "./classify.js";
import { acceptsSse, answer, connectionSignal, header, Reply } from "./reply.js";
import { traceHeadersOf } from "./trace-headers.js";

/**
 * Serves a 2026-07-28 request (basic/transports "Streamable HTTP"): no session;
 * the answer is JSON, or SSE when notifications precede it; an error carries
 * its HTTP status ("Error Handling").
 */
export function serveStateless(
  server: McpServer,
  auth: ResourceServer | undefined,
  route: Extract<PostRoute, { kind: "stateless" }>,
  req: IncomingMessage,
  res: ServerResponse,
  identity: Identity | undefined,
): Promise<void> {
  const reply = new Reply(res, acceptsSse(req), {});
  const ex: StatelessExchange = {
    signal: connectionSignal(req.socket),
    ...(identity ? { identity } : {}),
    era: "stateless",
    clientCapabilities: route.clientCapabilities,
    logLevel: route.logLevel,
    header: (name) => header(req, name),
    notify: (method, p) => reply.send({ jsonrpc: "2.0", method, params: p }),
    traceHeaders: traceHeadersOf(req),
  };
  return answer(server, auth, reply, route.request, ex, statelessHttpStatus);
}
