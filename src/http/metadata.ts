import type { IncomingMessage, ServerResponse } from "node:http";
import type { ResourceServer } from "../auth/index.js";

/**
 * Serves the Protected Resource Metadata (RFC 9728 §3) so clients can find
 * the authorization server. Readable cross-origin: browser-based clients fetch it.
 */
export function createMetadataHandler(auth: ResourceServer) {
  const body = JSON.stringify(auth.metadata());
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const cors = { "access-control-allow-origin": "*", "access-control-allow-methods": "GET, OPTIONS" };
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "access-control-allow-headers": "mcp-protocol-version" }).end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, OPTIONS" }).end();
      return;
    }
    res
      .writeHead(200, { ...cors, "content-type": "application/json", "cache-control": "max-age=3600" })
      .end(body);
  };
}
