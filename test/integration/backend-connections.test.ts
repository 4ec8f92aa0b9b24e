import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AdminService,
  type GetHTTPItemRequest,
  GetHTTPItemResponseSchema,
  InventoryService,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { IMAGE_PATH } from "../support/image.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

/**
 * The gateway's backend connections end to end: an MCP client calls tools of
 * a backend that fails with UNAVAILABLE a few times (a backend restarting
 * behind its load balancer), behind a TCP proxy that counts connections.
 */
type Backend = Awaited<ReturnType<typeof startConnectServer>>;
let inventory: Backend;
let admin: Backend;
let proxy: TcpProxy;
let gateway: Gateway;
let http: HttpListener;
let client: Client;
/** Calls each SKU reached the backend with, and the metadata of the last one. */
const calls = new Map<string, number>();
let statsCalls = 0;
let lastTeam: string | null = null;

beforeAll(async () => {
  inventory = await startConnectServer(InventoryService, {
    async getHTTPItem(req: GetHTTPItemRequest, ctx: HandlerContext) {
      const n = (calls.get(req.sku) ?? 0) + 1;
      calls.set(req.sku, n);
      lastTeam = ctx.requestHeader.get("x-team");
      // "flaky": UNAVAILABLE twice, then an answer; "down": UNAVAILABLE always.
      if (req.sku === "down" || (req.sku === "flaky" && n < 3)) {
        throw new ConnectError("the service is restarting", Code.Unavailable);
      }
      return create(GetHTTPItemResponseSchema, { item: { sku: req.sku, name: `after ${n}` } });
    },
  });
  admin = await startConnectServer(AdminService, {
    async getStats() {
      statsCalls++;
      throw new ConnectError("the service is restarting", Code.Unavailable);
    },
  });
  proxy = await startTcpProxy(inventory.url);
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [
        {
          name: "inv",
          target: proxy.url,
          descriptors: IMAGE_PATH,
          services: ["mcpengine.testing.v1.InventoryService"],
          headers: { "x-team": "payments" },
        },
        {
          name: "admin",
          target: admin.url,
          descriptors: IMAGE_PATH,
          services: ["mcpengine.testing.v1.AdminService"],
        },
      ],
    }),
  );
  gateway = await createGateway(config);
  http = await gateway.listen();
  client = new Client({ name: "backend-connections", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
});

afterAll(async () => {
  await client?.close();
  await http?.close();
  await proxy?.close();
  await Promise.all([inventory?.close(), admin?.close()]);
});

function text(result: Awaited<ReturnType<Client["callTool"]>>): string {
  return (result.content as { text: string }[])[0]?.text ?? "";
}

describe("a backend that fails with UNAVAILABLE", () => {
  it("gets a NO_SIDE_EFFECTS call again, and the tool answers", async () => {
    const result = await client.callTool({ name: "inv_get_http_item", arguments: { sku: "flaky" } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ item: { sku: "flaky", name: "after 3" } });
    expect(calls.get("flaky")).toBe(3);
  });

  it("gets it at most max_attempts (3) times, and the tool error says so", async () => {
    const result = await client.callTool({ name: "inv_get_http_item", arguments: { sku: "down" } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("the service is restarting (3 attempts)");
    expect(calls.get("down")).toBe(3);
  });

  it("never gets a call to a method without idempotency_level again", async () => {
    const result = await client.callTool({ name: "get_stats", arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("the service is restarting");
    expect(text(result)).not.toContain("attempts");
    expect(statsCalls).toBe(1);
  });
});

describe("the backend's static metadata", () => {
  it("goes with the tool's call", async () => {
    await client.callTool({ name: "inv_get_http_item", arguments: { sku: "team" } });
    expect(lastTeam).toBe("payments");
  });
});

describe("closing the gateway", () => {
  it("ends its backend connections", async () => {
    await client.callTool({ name: "inv_get_http_item", arguments: { sku: "before-close" } });
    expect(proxy.open()).toBe(1);
    await client.close();
    await http.close();
    await expect.poll(() => proxy.open()).toBe(0);
  });
});
