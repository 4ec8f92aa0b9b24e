import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { InventoryService, ItemSchema } from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway, type GatewayOptions } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { createLogger, type LogThreshold } from "../../src/observe/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { inventoryBackend } from "../support/image.js";
import { statelessRequest } from "../support/stateless.js";

/** A JWT-shaped secret planted where a careless log line would pick it up. */
export const PLANTED_JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkIiwic2VjcmV0Ijp0cnVlfQ.UExBTlRFRC1TSUdOQVRVUkUtZG8tbm90LWxvZw";

/** One parsed log line. */
export type LogLine = { readonly msg: string; readonly level: string } & { readonly [key: string]: unknown };

/** A gateway in front of an InventoryService backend, with every log line kept. */
export interface Rig {
  readonly gateway: Gateway;
  /** Base URL of the listener (`http://127.0.0.1:port`). */
  readonly base: string;
  /** Log lines as written (JSON text), and parsed. */
  readonly raw: string[];
  lines(): LogLine[];
  /** The metadata of each call the backend received. */
  readonly seen: Headers[];
  /** A 2026-07-28 request to the MCP endpoint. */
  call(
    id: number,
    method: string,
    params?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The backend answers `inv_get_http_item` with the item, except for SKUs that
 * fail: `down` (UNAVAILABLE, its message quoting {@link PLANTED_JWT}) and
 * `missing` (NOT_FOUND); `inv_tail_item` streams `count` items.
 */
export async function startRig(
  options: {
    level?: LogThreshold;
    config?: Record<string, unknown>;
    gateway?: Omit<GatewayOptions, "logger">;
  } = {},
): Promise<Rig> {
  const seen: Headers[] = [];
  const backend = await startConnectServer(InventoryService, {
    async getHTTPItem(req, ctx) {
      seen.push(new Headers(ctx.requestHeader));
      if (req.sku === "down")
        throw new ConnectError(`backend down; it said ${PLANTED_JWT}`, Code.Unavailable);
      if (req.sku === "missing") throw new ConnectError("no such item", Code.NotFound);
      return { item: create(ItemSchema, { sku: req.sku, name: `Item ${req.sku}`, quantity: 1n }) };
    },
    async *tailItem(req, ctx) {
      seen.push(new Headers(ctx.requestHeader));
      for (let i = 0; i < req.count; i++) yield { item: create(ItemSchema, { sku: `${req.sku}-${i}` }) };
    },
  });
  const raw: string[] = [];
  const logger = createLogger({ level: options.level ?? "trace", sink: { write: (l) => raw.push(l) } });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [inventoryBackend(backend.url)],
      ...options.config,
    }),
    { source: "test" },
  );
  const gateway = await createGateway(config, { logger, ...options.gateway });
  let listener: HttpListener;
  try {
    listener = await gateway.listen();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return {
    gateway,
    base: listener.url,
    raw,
    lines: () => raw.map((l) => JSON.parse(l) as LogLine),
    seen,
    call(id, method, params = {}, headers = {}) {
      const r = statelessRequest(id, method, params);
      return fetch(`${listener.url}/mcp`, {
        method: "POST",
        headers: { ...r.headers, ...headers },
        body: r.body,
      });
    },
    async close() {
      await listener.close();
      await backend.close();
    },
  };
}

/** Lines of `mcp request`. */
export function requestLines(rig: Rig): LogLine[] {
  return rig.lines().filter((l) => l.msg === "mcp request");
}

/** A loopback HTTP server answering a JWKS of one fresh key, and a way to sign tokens with it. */
export async function startJwks(): Promise<{
  readonly url: string;
  sign(claims: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const server: Server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  return {
    url,
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
