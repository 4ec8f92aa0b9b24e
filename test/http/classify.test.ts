import { describe, expect, it } from "vitest";
import { type PostRoute, routePost } from "../../src/http/classify.js";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};
const STATELESS_HEADERS = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };
const list = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } };
const getTask = (taskId: string) => ({
  jsonrpc: "2.0",
  id: 3,
  method: "tasks/get",
  params: { taskId, _meta: META },
});
const call = (name: string) => ({
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name, arguments: {}, _meta: META },
});

function route(headers: { [k: string]: string }, body: unknown): PostRoute {
  return routePost({
    header: (name) => headers[name],
    body,
    knowsStateless: (m) => m === "tools/list" || m === "tools/call" || m === "tasks/get",
  });
}

/** What a test expects: the route's kind, and for a rejection its status and JSON-RPC error code. */
function summary(r: PostRoute): string {
  if (r.kind !== "reject") return r.kind;
  const code = "error" in r.response ? r.response.error.code : "ok";
  return `reject ${r.status} ${code}`;
}

describe("routing a POST to the MCP endpoint (pure, no sockets)", () => {
  const cases: [string, { [k: string]: string }, unknown, string][] = [
    ["a 2026-07-28 request with matching headers", STATELESS_HEADERS, list, "stateless"],
    [
      "a stateless request without MCP-Protocol-Version",
      { "mcp-method": "tools/list" },
      list,
      "reject 400 -32020",
    ],
    [
      "a header version differing from _meta",
      { ...STATELESS_HEADERS, "mcp-protocol-version": "2025-11-25" },
      list,
      "reject 400 -32020",
    ],
    [
      "an unknown header version without a session",
      { "mcp-protocol-version": "1999-01-01" },
      list,
      "reject 400 -32022",
    ],
    [
      "Mcp-Method differing from the body",
      { ...STATELESS_HEADERS, "mcp-method": "tools/call" },
      list,
      "reject 400 -32020",
    ],
    [
      "a missing Mcp-Name",
      { ...STATELESS_HEADERS, "mcp-method": "tools/call" },
      call("a"),
      "reject 400 -32020",
    ],
    [
      "a matching Mcp-Name",
      { ...STATELESS_HEADERS, "mcp-method": "tools/call", "mcp-name": "a" },
      call("a"),
      "stateless",
    ],
    [
      "tasks/get with Mcp-Name naming its taskId (SEP-2663 routing headers)",
      { ...STATELESS_HEADERS, "mcp-method": "tasks/get", "mcp-name": "t-1" },
      getTask("t-1"),
      "stateless",
    ],
    [
      "tasks/get with an Mcp-Name naming another task",
      { ...STATELESS_HEADERS, "mcp-method": "tasks/get", "mcp-name": "t-2" },
      getTask("t-1"),
      "reject 400 -32020",
    ],
    [
      "tasks/get without Mcp-Name",
      { ...STATELESS_HEADERS, "mcp-method": "tasks/get" },
      getTask("t-1"),
      "reject 400 -32020",
    ],
    [
      "an unknown stateless method",
      { ...STATELESS_HEADERS, "mcp-method": "ping" },
      { ...list, method: "ping" },
      "reject 404 -32601",
    ],
    ["a stateless request without _meta", STATELESS_HEADERS, { ...list, params: {} }, "reject 400 -32602"],
    [
      "a stateless notification",
      { ...STATELESS_HEADERS, "mcp-method": "notifications/x" },
      { jsonrpc: "2.0", method: "notifications/x", params: { _meta: META } },
      "accepted",
    ],
    ["a batch", {}, [list], "reject 400 -32600"],
    ["a message that is not JSON-RPC", {}, { id: 1 }, "reject 400 -32600"],
    [
      "initialize without a session",
      {},
      { jsonrpc: "2.0", id: 1, method: "initialize", params: {} },
      "initialize",
    ],
    [
      "another request without a session",
      {},
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      "reject 400 -32600",
    ],
    [
      "a notification without a session",
      {},
      { jsonrpc: "2.0", method: "notifications/initialized" },
      "accepted",
    ],
    [
      "a request of a session",
      { "mcp-session-id": "s" },
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      "session",
    ],
    [
      "a session request with an unknown header version",
      { "mcp-session-id": "s", "mcp-protocol-version": "1999-01-01" },
      { jsonrpc: "2.0", id: 1, method: "ping" },
      "session",
    ],
    [
      "a client response of a session",
      { "mcp-session-id": "s" },
      { jsonrpc: "2.0", id: "x", result: {} },
      "session",
    ],
  ];
  it.each(cases)("routes %s", (_name, headers, body, expected) => {
    expect(summary(route(headers, body))).toBe(expected);
  });

  it("carries the client's capabilities and log level of a stateless request", () => {
    const meta = {
      ...META,
      "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
      "io.modelcontextprotocol/logLevel": "debug",
    };
    const r = route(STATELESS_HEADERS, { ...list, params: { _meta: meta } });
    expect(r).toMatchObject({ kind: "stateless", clientCapabilities: { sampling: {} }, logLevel: "debug" });
  });

  it("keeps the request id in a version refusal", () => {
    const r = route({ "mcp-protocol-version": "1999-01-01" }, { ...list, id: 77 });
    expect(r.kind === "reject" && r.response.id).toBe(77);
  });
});
