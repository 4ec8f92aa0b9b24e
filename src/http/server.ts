import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A route handler of the gateway's HTTP server. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** A listening HTTP server and how to stop it. */
export interface HttpListener {
  readonly server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The single Node `http` adapter of the gateway: exact-path routing to
 * handlers, `/healthz`, 404 for the rest, and a 500 instead of a crash
 * should a handler throw.
 */
export async function listen(
  host: string,
  port: number,
  routes: ReadonlyMap<string, HttpHandler>,
): Promise<HttpListener> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const q = req.url?.indexOf("?") ?? -1;
    const path = q >= 0 ? req.url?.slice(0, q) : req.url;
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    const handler = path === undefined ? undefined : routes.get(path);
    if (!handler) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      req.resume();
      return;
    }
    const fail = () => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
      else res.destroy();
    };
    try {
      const done = handler(req, res);
      if (done) done.catch(fail);
    } catch {
      fail();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${hostPart}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
