import type { AdminReloadOutcome, AdminSource } from "../../src/admin/index.js";

/** A hand-made source with two backends, one down; each field can be replaced by a test. */
export function fakeSource(over: Partial<AdminSource> = {}): AdminSource & { reloads: number } {
  const state = { reloads: 0 };
  const tool = (name: string, backend: string, service: string, method: string) => ({
    name,
    backend,
    method: { name: method, parent: { typeName: service } },
  });
  return {
    get reloads() {
      return state.reloads;
    },
    backends: () => [
      { name: "orders", target: "http://10.0.0.1:50051", ready: true, tools: 2 },
      {
        name: "billing",
        target: "https://billing.internal:443",
        ready: false,
        tools: 0,
        error: "cannot reach billing.internal:443",
      },
    ],
    tools: [
      tool("orders_get_order", "orders", "shop.v1.OrderService", "GetOrder"),
      tool("orders_list_orders", "orders", "shop.v1.OrderService", "ListOrders"),
    ],
    surface: {
      resources: [{ uri: "orders://recent" }],
      templates: [{ uriTemplate: "orders://order/{id}" }],
      prompts: [{ name: "summarize_order" }],
    },
    http: {
      sessionCount: () => 3,
      streamCount: () => 2,
      replayBytes: () => 4096,
      running: () => 1,
    },
    catalogLoadedAt: new Date("2026-01-02T03:04:05.678Z"),
    async reload(): Promise<AdminReloadOutcome> {
      state.reloads++;
      return { changed: true, tools: 3 };
    },
    ...over,
  };
}
