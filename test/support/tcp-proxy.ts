import { type AddressInfo, createServer, connect as netConnect, type Socket } from "node:net";

/**
 * What the proxy does with a new connection: pass it to the target, close it
 * at once (a backend that is down behind a load balancer), or accept it and
 * never answer (a black hole).
 */
export type ProxyMode = "forward" | "reset" | "silent";

/** A TCP proxy in front of a backend, for faults below HTTP/2. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections open now (client side). */
  readonly open: () => number;
  mode: ProxyMode;
  /** Stops moving bytes on every open connection, both ways, keeping the sockets open: a peer gone silent. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string, mode: ProxyMode = "forward"): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<{ client: Socket; upstream?: Socket }>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const pair: { client: Socket; upstream?: Socket } = { client };
    pairs.add(pair);
    client.on("error", () => {});
    client.on("close", () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (proxy.mode === "reset") return client.destroy();
    if (proxy.mode === "silent") return;
    const upstream = netConnect(Number(port), hostname);
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    open: () => pairs.size,
    mode,
    freeze() {
      for (const { client, upstream } of pairs) {
        if (!upstream) continue;
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of pairs) {
          client.destroy();
          upstream?.destroy();
        }
        server.close(() => resolve());
      }),
  };
  return proxy;
}
