import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A front that makes a gateway speak fewer protocol eras than it does. */
export interface EraFront {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Puts a front before an MCP endpoint that refuses some requests the way a
 * server of fewer eras would and passes the rest through unchanged:
 * `"2026-07-28"` makes a server that speaks only 2026-07-28 (no initialize,
 * no GET stream, no session versions); `"sessions"` makes a session-only one
 * (2026-07-28 requests refused as an unsupported version).
 */
export async function startEraFront(target: string, only: "2026-07-28" | "sessions"): Promise<EraFront> {
  const upstream = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const refuse = (status: number, code: number, message: string) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
      };
      const version = req.headers["mcp-protocol-version"];
      if (only === "2026-07-28") {
        if (req.method !== "POST") return refuse(405, -32601, "this server has no GET stream");
        if (version !== "2026-07-28")
          return refuse(400, -32022, "unsupported protocol version; supported: 2026-07-28");
      } else if (version === "2026-07-28") {
        return refuse(400, -32022, "unsupported protocol version; supported: 2025-11-25");
      }
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: upstream.pathname,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on("error", () => res.destroy());
      res.on("close", () => out.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
