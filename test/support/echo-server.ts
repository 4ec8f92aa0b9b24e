import { createServer as createHttp1Server } from "node:http";
import { createServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/**
 * A Connect-node server on 127.0.0.1 for one service: h2c (gRPC, Connect,
 * gRPC-Web over HTTP/2) by default, or HTTP/1.1 with `http1`.
 */
export async function startConnectServer<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  options: { http1?: boolean } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const handler = connectNodeAdapter({ routes: (r) => r.service(service, impl) });
  if (options.http1) {
    const server = createHttp1Server(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
  const server = createServer(handler);
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}
