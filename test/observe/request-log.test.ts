import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rig, requestLines, startJwks, startRig } from "./rig.js";

describe("the request log of a gateway without auth", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(() => rig?.close());

  it("says where it listens, which backends with how many tools, auth off and the store, once at start", () => {
    const started = rig.lines().filter((l) => l.msg.startsWith("mcpengine listening on "));
    expect(started).toEqual([
      expect.objectContaining({
        level: "info",
        url: `${rig.base}/mcp`,
        backends: [{ name: "inv", ready: true, tools: rig.gateway.tools.length }],
        tools: rig.gateway.tools.length,
        auth: "off",
        store: "memory",
        metrics: `${rig.base}/metrics`,
        tracing: "on",
      }),
    ]);
  });

  it("writes one line per request: era, transport, method, tool, outcome, HTTP status, duration and id", async () => {
    const before = requestLines(rig).length;
    const res = await rig.call(41, "tools/call", { name: "inv_get_http_item", arguments: { sku: "A1" } });
    expect(res.status).toBe(200);
    await res.json();
    const lines = requestLines(rig).slice(before);
    expect(lines).toEqual([
      {
        level: "info",
        time: expect.any(Number),
        pid: process.pid,
        hostname: expect.any(String),
        msg: "mcp request",
        era: "stateless",
        transport: "stateless",
        method: "tools/call",
        tool: "inv_get_http_item",
        outcome: "ok",
        status: 200,
        ms: expect.any(Number),
        id: 41,
      },
    ]);
    expect(lines[0]?.ms).toBeGreaterThan(0);
  });

  it.each([
    [
      "an unknown tool",
      "tools/call",
      { name: "nope", arguments: {} },
      { outcome: "-32602", status: 200, tool: "nope" },
    ],
    [
      "a failed backend call",
      "tools/call",
      { name: "inv_get_http_item", arguments: { sku: "down" } },
      { outcome: "tool_error", status: 200 },
    ],
    ["a list", "tools/list", {}, { outcome: "ok", status: 200 }],
  ])("names the outcome of %s", async (_, method, params, expected) => {
    const before = requestLines(rig).length;
    await (await rig.call(7, method, params)).text();
    const [line, ...more] = requestLines(rig).slice(before);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ method, ...expected });
  });

  it("gives the JSON-RPC error's message on a failed request", async () => {
    const before = requestLines(rig).length;
    await (await rig.call(8, "tools/call", { name: "nope" })).text();
    expect(requestLines(rig).slice(before)[0]).toMatchObject({ error: "Unknown tool: nope" });
  });

  it("logs a failed backend call with backend, RPC and gRPC code: UNAVAILABLE at warn, NOT_FOUND at debug", async () => {
    const before = rig.lines().length;
    await (await rig.call(9, "tools/call", { name: "inv_get_http_item", arguments: { sku: "down" } })).text();
    await (
      await rig.call(10, "tools/call", { name: "inv_get_http_item", arguments: { sku: "missing" } })
    ).text();
    const failures = rig
      .lines()
      .slice(before)
      .filter((l) => l.msg === "backend call failed");
    expect(failures).toEqual([
      expect.objectContaining({
        level: "warn",
        backend: "inv",
        rpc: "mcpengine.testing.v1.InventoryService/GetHTTPItem",
        code: "UNAVAILABLE",
        error: expect.stringMatching(/^backend down; it said \[redacted\]/),
      }),
      expect.objectContaining({ level: "debug", code: "NOT_FOUND", error: "no such item" }),
    ]);
  });

  it("logs a session-era request with its transport, and initialize's own line", async () => {
    const before = requestLines(rig).length;
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await fetch(`${rig.base}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: "init-1",
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    const list = await fetch(`${rig.base}/mcp`, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    await list.text();
    expect(requestLines(rig).slice(before)).toEqual([
      expect.objectContaining({
        era: "session",
        transport: "streamable",
        method: "initialize",
        id: "init-1",
      }),
      expect.objectContaining({ era: "session", transport: "streamable", method: "tools/list", status: 200 }),
    ]);
  });
});

describe("the request log at --log-level warn", () => {
  it("has no line per request, and still the failures", async () => {
    const rig = await startRig({ level: "warn" });
    try {
      await (await rig.call(1, "tools/call", { name: "inv_get_http_item", arguments: { sku: "A1" } })).text();
      await (
        await rig.call(2, "tools/call", { name: "inv_get_http_item", arguments: { sku: "down" } })
      ).text();
      expect(rig.lines().map((l) => l.msg)).toEqual(["backend call failed"]);
    } finally {
      await rig.close();
    }
  });
});

describe("the request log with auth on", () => {
  let rig: Rig;
  let jwks: Awaited<ReturnType<typeof startJwks>>;
  // Keys come from jwksUri: the issuer itself is never fetched.
  const issuer = "http://idp.test";
  beforeAll(async () => {
    jwks = await startJwks();
    rig = await startRig({
      config: { auth: { issuer, audience: "http://gateway.test/mcp", jwksUri: jwks.url } },
    });
  });
  afterAll(async () => {
    await rig?.close();
    await jwks?.close();
  });

  it("names the caller's subject and never the token", async () => {
    const token = await jwks.sign({
      iss: issuer,
      aud: "http://gateway.test/mcp",
      sub: "alice",
      scope: "inventory.read",
    });
    const before = requestLines(rig).length;
    const res = await rig.call(
      3,
      "tools/call",
      { name: "inv_get_http_item", arguments: { sku: "A1" } },
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(200);
    await res.text();
    expect(requestLines(rig).slice(before)).toEqual([
      expect.objectContaining({ subject: "alice", outcome: "ok", tool: "inv_get_http_item" }),
    ]);
    expect(rig.raw.filter((l) => l.includes(token.split(".")[2] ?? "?"))).toEqual([]);
    expect(rig.lines().find((l) => l.msg.startsWith("mcpengine listening"))).toMatchObject({
      auth: "on",
      issuer,
    });
  });

  it("logs a missing scope as insufficient_scope with status 403", async () => {
    const token = await jwks.sign({
      iss: issuer,
      aud: "http://gateway.test/mcp",
      sub: "bob",
      scope: "other",
    });
    const before = requestLines(rig).length;
    const res = await rig.call(
      4,
      "tools/call",
      { name: "inv_get_http_item", arguments: { sku: "A1" } },
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(403);
    await res.text();
    expect(requestLines(rig).slice(before)).toEqual([
      expect.objectContaining({ subject: "bob", outcome: "insufficient_scope", status: 403 }),
    ]);
  });
});
