import { describe, expect, it } from "vitest";
import { buildSurface, buildTools } from "../../src/catalog/index.js";
import { createMcpServer, type Era, nameParam } from "../../src/mcp/index.js";
import { LIST_TTL_MS, METHODS, methodSpec } from "../../src/mcp/methods.js";
import { exchangeOf } from "../support/exchange.js";
import { imageService } from "../support/image.js";

const S: readonly Era[] = ["session"];
const L: readonly Era[] = ["stateless"];
const B: readonly Era[] = ["session", "stateless"];
const LIST = LIST_TTL_MS;

/** method, eras it exists in, ttlMs when cacheable in 2026-07-28, the param Mcp-Name mirrors. */
const TABLE: readonly [string, readonly Era[], number | undefined, string | undefined][] = [
  ["initialize", S, undefined, undefined],
  ["ping", S, undefined, undefined],
  ["logging/setLevel", S, undefined, undefined],
  ["resources/subscribe", S, undefined, undefined],
  ["resources/unsubscribe", S, undefined, undefined],
  ["server/discover", L, LIST, undefined],
  ["subscriptions/listen", L, undefined, undefined],
  ["tools/list", B, LIST, undefined],
  ["tools/call", B, undefined, "name"],
  ["resources/list", B, LIST, undefined],
  ["resources/templates/list", B, LIST, undefined],
  ["resources/read", B, 0, "uri"],
  ["prompts/list", B, LIST, undefined],
  ["prompts/get", B, undefined, "name"],
  ["completion/complete", B, undefined, undefined],
  ["tasks/get", L, undefined, "taskId"],
  ["tasks/update", L, undefined, "taskId"],
  ["tasks/cancel", L, undefined, "taskId"],
];

const everything = [{ backend: "e", services: [imageService("conformance.v1.EverythingService")] }];

function core(enforceScopes = false) {
  return createMcpServer({
    info: { name: "t", version: "1" },
    tools: buildTools(everything),
    surface: buildSurface(everything),
    backends: new Map(),
    enforceScopes,
  });
}

describe("the method table", () => {
  it("holds exactly the methods of the table below, one row each", () => {
    expect(Object.keys(METHODS).sort()).toEqual(TABLE.map(([m]) => m).sort());
  });

  it.each(TABLE)("%s exists in %j, caches for %s ms, mirrors %s in Mcp-Name", (method, eras, ttl, named) => {
    const spec = METHODS[method];
    expect(spec?.eras).toEqual(eras);
    expect(spec?.ttlMs).toBe(ttl);
    expect(spec?.nameParam).toBe(named);
    expect(nameParam(method)).toBe(named);
    const server = core();
    for (const era of ["session", "stateless"] as const) {
      expect(methodSpec(method, era) !== undefined).toBe(eras.includes(era));
      expect(server.knows(method, era)).toBe(eras.includes(era));
    }
  });

  it.each([
    "constructor",
    "__proto__",
    "toString",
    "hasOwnProperty",
    "notifications/cancelled",
    "",
    // The 2025-11-25 experimental tasks, removed by the extension (SEP-2663 "Backward Compatibility").
    "tasks/result",
    "tasks/list",
  ])("knows nothing of %j in either era", async (method) => {
    expect(methodSpec(method, "session")).toBeUndefined();
    expect(methodSpec(method, "stateless")).toBeUndefined();
    expect(nameParam(method)).toBeUndefined();
    const server = core();
    expect(server.knows(method, "session")).toBe(false);
    expect(server.knows(method, "stateless")).toBe(false);
    const res = await server.handle({ jsonrpc: "2.0", id: 1, method }, exchangeOf("stateless"));
    expect(res).toMatchObject({ error: { code: -32601 } });
  });

  it("answers a method outside its era as -32601, in both directions", async () => {
    const server = core();
    for (const [method, eras] of TABLE) {
      for (const era of ["session", "stateless"] as const) {
        if (eras.includes(era)) continue;
        const res = await server.handle({ jsonrpc: "2.0", id: 7, method }, exchangeOf(era));
        expect(res, `${method} in the ${era} era`).toEqual({
          jsonrpc: "2.0",
          id: 7,
          error: { code: -32601, message: `Method not found: ${method}` },
        });
      }
    }
  });

  it("marks complete 2026-07-28 results of cacheable methods with the table's ttl and the cache scope", async () => {
    for (const enforce of [false, true]) {
      const server = core(enforce);
      for (const method of ["server/discover", "tools/list", "resources/list", "prompts/list"]) {
        const res = (await server.handle({ jsonrpc: "2.0", id: 1, method }, exchangeOf("stateless"))) as {
          result: { [k: string]: unknown };
        };
        expect(res.result).toMatchObject({
          resultType: "complete",
          ttlMs: LIST_TTL_MS,
          cacheScope: enforce ? "private" : "public",
        });
      }
    }
  });

  it("gives results with sessions no resultType, ttlMs or cacheScope, and uncacheable ones no ttlMs", async () => {
    const server = core();
    const listed = (await server.handle(
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      exchangeOf("session"),
    )) as {
      result: { [k: string]: unknown };
    };
    expect(Object.keys(listed.result)).not.toContain("resultType");
    expect(Object.keys(listed.result)).not.toContain("ttlMs");
    // A catalog without a completion handler answers every completion, empty, without a backend.
    const bare = createMcpServer({ info: { name: "t", version: "1" }, tools: [], backends: new Map() });
    const completed = (await bare.handle(
      {
        jsonrpc: "2.0",
        id: 2,
        method: "completion/complete",
        params: { ref: { type: "ref/prompt", name: "x" }, argument: { name: "a", value: "" } },
      },
      exchangeOf("stateless"),
    )) as { result: { [k: string]: unknown } };
    expect(completed.result).toEqual({
      completion: { values: [], hasMore: false },
      resultType: "complete",
    });
  });
});
