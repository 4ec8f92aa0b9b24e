import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * A loopback TCP proxy the test controls, to take Redis away and give it back
 * without touching the Redis server other tests share: `stop()` closes every
 * connection and the port, `start()` listens again on the same port, and
 * `blackhole()` keeps connections open but forwards nothing (a Redis that
 * stopped answering).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private silent = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.silent = false;
    const server = createServer((client) => this.pipe(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
  }

  blackhole(): void {
    this.silent = true;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    const upstream = tcpConnect(this.targetPort, this.targetHost);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk) => {
      if (!this.silent) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!this.silent) client.write(chunk);
    });
  }
}
