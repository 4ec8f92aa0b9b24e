import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A round-robin HTTP balancer on 127.0.0.1 with no session affinity: each
 * request goes to the next upstream; an upstream that refuses the connection
 * is skipped, as a real balancer's health checks would. Each response says
 * which upstream served it in `x-upstream` (its index).
 */
export interface Balancer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startBalancer(upstreams: readonly string[]): Promise<Balancer> {
  let next = 0;
  const pass = (req: IncomingMessage, res: ServerResponse, body: Buffer, tries: number): void => {
    const index = next++ % upstreams.length;
    const target = new URL(req.url ?? "/", upstreams[index]);
    const out = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, { ...up.headers, "x-upstream": String(index) });
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    out.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" && tries < upstreams.length && !res.headersSent) {
        pass(req, res, body, tries + 1);
      } else res.destroy();
    });
    res.on("close", () => out.destroy());
    out.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => pass(req, res, Buffer.concat(chunks), 1));
  });
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
