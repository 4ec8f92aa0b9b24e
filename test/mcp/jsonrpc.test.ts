import { describe, expect, it } from "vitest";
import { classify } from "../../src/mcp/index.js";

describe("classify", () => {
  it.each([
    [{ jsonrpc: "2.0", id: 1, method: "ping" }, "request"],
    [{ jsonrpc: "2.0", id: "a", method: "tools/list", params: {} }, "request"],
    [{ jsonrpc: "2.0", method: "notifications/initialized" }, "notification"],
    [{ jsonrpc: "2.0", id: 3, result: {} }, "response"],
    [{ jsonrpc: "2.0", id: 3, error: { code: 1, message: "x" } }, "response"],
    [{ jsonrpc: "1.0", id: 1, method: "ping" }, "invalid"],
    [{ jsonrpc: "2.0", id: null, method: "ping" }, "invalid"],
    [{ jsonrpc: "2.0", id: {}, method: "ping" }, "invalid"],
    [{ jsonrpc: "2.0", id: 1, method: "ping", params: [1] }, "invalid"],
    [{ jsonrpc: "2.0", id: 1 }, "invalid"],
    [[{ jsonrpc: "2.0", id: 1, method: "ping" }], "invalid"],
    ["ping", "invalid"],
    [null, "invalid"],
  ])("classifies %j as %s", (value, kind) => {
    expect(classify(value).kind).toBe(kind);
  });

  it("keeps the id of an invalid request so the error can answer it", () => {
    expect(classify({ jsonrpc: "2.0", id: 7, method: "x", params: 1 })).toMatchObject({
      kind: "invalid",
      id: 7,
    });
  });
});
