import { createSecureServer, createServer, type Http2SecureServer, type Http2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type AdminApiOptions, adminRoutes } from "./router.js";

/** Where the admin listener listens and how. */
export interface AdminListenOptions extends AdminApiOptions {
  readonly host: string;
  readonly port: number;
  /** Serve TLS with this certificate chain and key (PEM), as the main listener does; h2c when absent. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

/** A running admin listener. */
export interface AdminListener {
  /** Base URL, e.g. `http://127.0.0.1:9090` (`https://` with TLS). */
  readonly url: string;
  /** Stops at once, ending every connection (admin calls are short). */
  close(): Promise<void>;
}

/** An idle admin connection is closed after this long (as the main listener's keep-alive). */
const IDLE_TIMEOUT_MS = 65_000;

/**
 * Serves the admin API (see {@link adminRoutes}) through Connect's Node
 * adapter on an HTTP/2 server, so gRPC, Connect and gRPC-Web clients all work.
 * Without TLS it is h2c with prior knowledge (`grpcurl -plaintext`,
 * `buf curl --http2-prior-knowledge`): Node's cleartext HTTP/2 server cannot
 * also take HTTP/1.1. With TLS, ALPN offers `h2` and `http/1.1`, so a plain
 * `curl` of the Connect protocol works too.
 */
export async function listenAdmin(options: AdminListenOptions): Promise<AdminListener> {
  const handler = connectNodeAdapter({ routes: adminRoutes(options) });
  const server: Http2Server | Http2SecureServer = options.tls
    ? createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, handler)
    : createServer(handler);
  server.setTimeout(IDLE_TIMEOUT_MS);
  // Every TCP connection, whatever protocol it ends up speaking, so close() can end them all.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${addr.port}`,
    close() {
      closing ??= (async () => {
        server.close();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
