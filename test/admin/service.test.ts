import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AdminService } from "../../gen/es/mcpengine/v1/admin_pb.js";
import { type AdminSource, adminRoutes } from "../../src/admin/index.js";
import { silentLogger } from "../../src/observe/index.js";
import { fakeSource } from "./fake-source.js";

/** An AdminService client over an in-memory transport to the admin routes, without auth. */
function client(source: AdminSource): Client<typeof AdminService> {
  const transport = createRouterTransport(adminRoutes({ source, logger: silentLogger() }));
  return createClient(AdminService, transport);
}

describe("ListBackends", () => {
  it("lists every backend in order with its target, readiness, tool count and the error of one down", async () => {
    const res = await client(fakeSource()).listBackends({});
    const plain = res.backends.map(({ name, target, ready, tools, error }) => ({
      name,
      target,
      ready,
      tools,
      error,
    }));
    expect(plain).toEqual([
      { name: "orders", target: "http://10.0.0.1:50051", ready: true, tools: 2, error: "" },
      {
        name: "billing",
        target: "https://billing.internal:443",
        ready: false,
        tools: 0,
        error: "cannot reach billing.internal:443",
      },
    ]);
  });

  it("leaves out a stale error of a backend that is ready", async () => {
    const source = fakeSource({
      backends: () => [{ name: "a", target: "http://a:1", ready: true, tools: 1, error: "old failure" }],
    });
    const res = await client(source).listBackends({});
    expect(res.backends[0]?.error).toBe("");
  });
});

describe("GetCatalog", () => {
  it("answers the tools with their backend and package.Service/Method, the surface and when it was loaded", async () => {
    const res = await client(fakeSource()).getCatalog({});
    expect(res.tools.map((t) => [t.name, t.backend, t.method])).toEqual([
      ["orders_get_order", "orders", "shop.v1.OrderService/GetOrder"],
      ["orders_list_orders", "orders", "shop.v1.OrderService/ListOrders"],
    ]);
    expect(res.resources).toEqual(["orders://recent"]);
    expect(res.resourceTemplates).toEqual(["orders://order/{id}"]);
    expect(res.prompts).toEqual(["summarize_order"]);
    expect(res.loadedAt && timestampDate(res.loadedAt).toISOString()).toBe("2026-01-02T03:04:05.678Z");
  });

  it("reads the catalog being served at the time of the call", async () => {
    const source = fakeSource();
    const admin = client(source);
    const swapped = fakeSource({ tools: [] });
    Object.defineProperty(source, "tools", { get: () => swapped.tools });
    expect((await admin.getCatalog({})).tools).toEqual([]);
  });
});

describe("GetSessions", () => {
  it("answers the counts of sessions, streams, replay bytes and running requests", async () => {
    const res = await client(fakeSource()).getSessions({});
    expect([res.sessions, res.streams, res.replayBytes, res.running]).toEqual([3, 2, 4096n, 1]);
  });

  it("answers 0 replay bytes when a shared store keeps them", async () => {
    const source = fakeSource();
    const res = await client({
      ...source,
      http: { ...source.http, replayBytes: () => undefined },
    }).getSessions({});
    expect(res.replayBytes).toBe(0n);
    expect(res.sessions).toBe(3);
  });
});

describe("Reload", () => {
  it("runs a reload and answers what it did", async () => {
    const source = fakeSource();
    const res = await client(source).reload({});
    expect(source.reloads).toBe(1);
    expect([res.changed, res.tools, res.error]).toEqual([true, 3, ""]);
  });

  it("answers the error of a failed reload", async () => {
    const source = fakeSource({
      reload: async () => ({ changed: false, tools: 2, error: "backend orders: no such file" }),
    });
    const res = await client(source).reload({});
    expect([res.changed, res.tools, res.error]).toEqual([false, 2, "backend orders: no such file"]);
  });

  it("answers a reload that threw as a failed one, with the tools still served", async () => {
    const source = fakeSource({
      reload: () => Promise.reject(new Error("descriptor set is truncated")),
    });
    const res = await client(source).reload({});
    expect([res.changed, res.tools, res.error]).toEqual([false, 2, "descriptor set is truncated"]);
  });
});
