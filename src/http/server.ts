import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Readiness } from "../health/index.js";

/** A route handler of the gateway's HTTP server. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** A listening HTTP(S) server and how to stop it. */
export interface HttpListener {
  readonly server: Server | HttpsServer;
  /** Base URL, e.g. `http://127.0.0.1:8080` (`https://` with TLS). */
  readonly url: string;
  /** Whether a {@link HttpListener.drain} has begun. */
  readonly draining: boolean;
  /**
   * Begins a graceful stop: no new connection is accepted, a request arriving
   * on an open one is answered `503` with `Connection: close`, and `/readyz`
   * answers `503`, so a balancer stops sending here. Resolves `true` once no
   * client request is under way any more, `false` when `timeoutMs` passed
   * first; either way the caller then calls {@link HttpListener.close}.
   * Calling it again returns the same promise.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops at once: every connection is closed. */
  close(): Promise<void>;
}

/** Connection limits of the listener. */
export interface ListenLimits {
  /** Most concurrent connections; more are closed at once (default 1024). */
  readonly maxConnections?: number;
  /** Time for a request's headers and body to arrive, else 408 and close (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** Everything {@link listen} takes besides the address and the routes. */
export interface ListenOptions extends ListenLimits {
  /** Serve HTTPS with this certificate chain and private key (PEM); plain HTTP when absent. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** What `/readyz` reports; absent, the listener is ready while it is not draining. */
  readonly readiness?: () => Promise<Readiness>;
  /** Called once when a drain begins: ends the streams that would otherwise hold it (GET streams). */
  readonly onDrain?: () => void;
  /**
   * Client requests running outside any response of this listener (a request
   * whose SSE client left but whose call runs on, a 2024-11-05 request
   * answered `202`); a drain waits for them too.
   */
  readonly busy?: () => number;
}

/** Headers (and the TLS handshake) must arrive within this time (or the request timeout, if shorter). */
const HEADERS_TIMEOUT_MS = 10_000;
/** How often a drain looks whether it is done, and closes connections that went idle meanwhile. */
const DRAIN_POLL_MS = 50;

/**
 * The single Node `http`/`https` adapter of the gateway: exact-path routing to
 * handlers, `/healthz` and `/readyz`, 404 for the rest, and a 500 instead of
 * a crash should a handler throw. Slow clients are bounded: headers within
 * 10 s, the whole request within `requestTimeoutMs` (Node answers 408 and
 * closes), idle keep-alive connections closed after 65 s, and at most
 * `maxConnections`. Responses themselves (SSE streams) are not limited by
 * these timeouts.
 */
export async function listen(
  host: string,
  port: number,
  routes: ReadonlyMap<string, HttpHandler>,
  options: ListenOptions = {},
): Promise<HttpListener> {
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, requestTimeout);
  const httpOptions = {
    keepAliveTimeout: 65_000,
    requestTimeout,
    headersTimeout,
    // Node checks both timeouts on this interval; the default (30 s) would let a slow body live on.
    connectionsCheckingInterval: Math.min(1_000, requestTimeout),
  };
  /**
   * Client requests under way: every request but a GET. In every MCP transport
   * a GET opens a stream the server may end at any time (the client resumes it
   * elsewhere), while a POST or DELETE carries a request whose answer is owed.
   */
  const requests = new Set<ServerResponse>();
  let draining = false;
  let drained: Promise<boolean> | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const q = req.url?.indexOf("?") ?? -1;
    const path = q >= 0 ? req.url?.slice(0, q) : req.url;
    if (path === "/healthz") {
      req.resume();
      res.writeHead(200, plainHeaders(draining)).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      req.resume();
      void readyz(res);
      return;
    }
    if (draining) {
      req.resume();
      res.writeHead(503, plainHeaders(true)).end("shutting down\n");
      return;
    }
    const handler = path === undefined ? undefined : routes.get(path);
    if (!handler) {
      res.writeHead(404, plainHeaders(false)).end("not found\n");
      req.resume();
      return;
    }
    if (req.method !== "GET") {
      requests.add(res);
      res.once("close", () => requests.delete(res));
    }
    const fail = () => {
      if (!res.headersSent) res.writeHead(500, plainHeaders(false)).end("internal error\n");
      else res.destroy();
    };
    try {
      const done = handler(req, res);
      if (done) done.catch(fail);
    } catch {
      fail();
    }
  };

  async function readyz(res: ServerResponse): Promise<void> {
    let report: Readiness;
    if (draining) {
      report = { ready: false, checks: { shutdown: { ok: false, detail: "the gateway is shutting down" } } };
    } else {
      try {
        report = options.readiness ? await options.readiness() : { ready: true, checks: {} };
      } catch (err) {
        report = { ready: false, checks: { readiness: { ok: false, detail: String(err) } } };
      }
    }
    if (res.destroyed) return;
    const body = JSON.stringify(report);
    res
      .writeHead(report.ready ? 200 : 503, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
        ...(draining ? { connection: "close" } : {}),
      })
      .end(body);
  }

  const server = options.tls
    ? createHttpsServer(
        { ...httpOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: headersTimeout },
        onRequest,
      )
    : createServer(httpOptions, onRequest);
  server.keepAliveTimeout = httpOptions.keepAliveTimeout;
  server.maxConnections = options.maxConnections ?? 1024;
  const closed = new Promise<void>((resolve) => server.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const pending = () => requests.size + (options.busy?.() ?? 0);

  async function drain(timeoutMs: number): Promise<boolean> {
    draining = true;
    // Stops accepting; Node also closes the keep-alive connections that are idle now.
    if (server.listening) server.close();
    // Answers still to come close their connection: the client sends its next request elsewhere.
    for (const res of requests) if (!res.headersSent) res.setHeader("connection", "close");
    options.onDrain?.();
    const deadline = Date.now() + timeoutMs;
    while (pending() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(DRAIN_POLL_MS, deadline - Date.now())));
      // Connections whose last response just ended (a GET stream, a finished request) go now,
      // rather than carrying one more request that would only be refused.
      server.closeIdleConnections();
    }
    server.closeIdleConnections();
    return pending() === 0;
  }

  return {
    server,
    url: `${options.tls ? "https" : "http"}://${hostPart}:${addr.port}`,
    get draining() {
      return draining;
    },
    drain(timeoutMs) {
      drained ??= drain(timeoutMs);
      return drained;
    },
    async close() {
      draining = true;
      if (server.listening) server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Headers of the listener's own plain-text answers; `Connection: close` while draining. */
function plainHeaders(close: boolean): { [k: string]: string } {
  return close ? { "content-type": "text/plain", connection: "close" } : { "content-type": "text/plain" };
}
