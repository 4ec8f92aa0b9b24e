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

/** Connection limits of the listener. */
export interface ListenLimits {
  /** Most concurrent connections; more are closed at once (default 1024). */
  readonly maxConnections?: number;
  /** Time for a request's headers and body to arrive, else 408 and close (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** Headers must arrive within this time (or the request timeout, if shorter). */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * The single Node `http` adapter of the gateway: exact-path routing to
 * handlers, `/healthz`, 404 for the rest, and a 500 instead of a crash
 * should a handler throw. Slow clients are bounded: headers within 10 s, the
 * whole request within `requestTimeoutMs` (Node answers 408 and closes), idle
 * keep-alive connections closed after 65 s, and at most `maxConnections`.
 * Responses themselves (SSE streams) are not limited by these timeouts.
 */
export async function listen(
  host: string,
  port: number,
  routes: ReadonlyMap<string, HttpHandler>,
  limits: ListenLimits = {},
): Promise<HttpListener> {
  const requestTimeout = limits.requestTimeoutMs ?? 30_000;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      // Node checks both timeouts on this interval; the default (30 s) would let a slow body live on.
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
    },
    (req, res) => {
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
    },
  );
  server.maxConnections = limits.maxConnections ?? 1024;
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
