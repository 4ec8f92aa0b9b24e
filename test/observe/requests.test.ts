import { describe, expect, it } from "vitest";
import type { McpTransport } from "../../src/http/index.js";
import {
  type Exchange,
  failure,
  InsufficientScopeError,
  type JsonRpcResponse,
  requestLimited,
  success,
} from "../../src/mcp/index.js";
import { createLogger, createMetrics } from "../../src/observe/index.js";
import { httpStatus, observeRequests, outcomeOf } from "../../src/observe/requests.js";

const live = new AbortController().signal;
const stateless: Exchange = {
  era: "stateless",
  signal: live,
  clientCapabilities: {},
  logLevel: undefined,
  notify: () => {},
  header: () => undefined,
};

const ok = success(1, { content: [] });
const toolError = success(1, { content: [], isError: true });
const inputRequired = success(1, { resultType: "input_required", inputRequests: {} });
const invalidParams = failure(1, -32602, "Unknown tool: x");
const notFound = failure(1, -32601, "Method not found: x");
const invalidRequest = failure(1, -32600, "bad");
const limited = requestLimited(1, "rate limit of 5 requests/s per caller exceeded; retry after 1s", {
  limit: "rate",
  scope: "caller",
  retryAfter: 1,
});

describe("the outcome of a request", () => {
  it.each([
    ["a result", ok, "ok"],
    ["a tool result with isError", toolError, "tool_error"],
    ["an input_required result (2026-07-28)", inputRequired, "input_required"],
    ["a JSON-RPC error", invalidParams, "-32602"],
    ["a refusal for a missing scope", undefined, "insufficient_scope"],
    ["a refusal over a limit per caller or session", limited, "limited"],
  ] as const)("is named for %s", (_, response, outcome) => {
    expect(outcomeOf(stateless, response)).toBe(outcome);
  });

  it("is cancelled when the request's signal was aborted, whatever came back", () => {
    const abort = new AbortController();
    abort.abort();
    expect(outcomeOf({ ...stateless, signal: abort.signal }, ok)).toBe("cancelled");
  });
});

describe("the HTTP status of a request's response", () => {
  it.each([
    ["stateless", "tools/call", ok, 200],
    ["stateless", "tools/call", invalidParams, 200],
    ["stateless", "nope", notFound, 404],
    ["stateless", "tools/call", invalidRequest, 400],
    ["stateless", "tools/call", undefined, 403],
    ["streamable", "tools/call", invalidParams, 200],
    ["streamable", "initialize", invalidRequest, 400],
    ["streamable", "initialize", ok, 200],
    ["streamable", "tools/call", undefined, 403],
    ["legacy", "tools/call", ok, 202],
    ["legacy", "tools/call", invalidParams, 202],
    ["stateless", "tools/call", limited, 429],
    ["streamable", "tools/call", limited, 429],
    ["streamable", "initialize", limited, 429],
    ["legacy", "tools/call", limited, 429],
  ] as const)("on %s, for %s, is as the transport answers", (transport, method, response, status) => {
    expect(httpStatus(transport as McpTransport, method, response)).toBe(status);
  });
});

describe("the request interceptor", () => {
  function observe(transport: McpTransport = "stateless") {
    const lines: { [k: string]: unknown }[] = [];
    const logger = createLogger({ sink: { write: (l) => lines.push(JSON.parse(l)) } });
    const metrics = createMetrics();
    const interceptor = observeRequests({
      transport,
      logger,
      metrics,
      knows: (method) => method !== "bogus",
      isTool: (name) => name === "known_tool",
    });
    return { lines, metrics, run: (next: () => Promise<JsonRpcResponse>) => interceptor(next) };
  }

  it("labels methods the core does not serve and tools the catalog does not hold as unknown", async () => {
    const o = observe();
    await o.run(async () => notFound)({ jsonrpc: "2.0", id: 1, method: "bogus" }, stateless);
    await o.run(async () => invalidParams)(
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "client-made-up-name" } },
      stateless,
    );
    const text = await o.metrics.registry.metrics();
    expect(text).toContain('mcpengine_requests_total{era="stateless",method="unknown",outcome="-32601"} 1');
    expect(text).toContain(
      'mcpengine_request_duration_seconds_count{era="stateless",method="tools/call",tool="unknown"} 1',
    );
    expect(text).not.toContain("client-made-up-name");
    expect(text).not.toContain("bogus");
    // The log line keeps what the client asked for (redacted, clipped): it is for people.
    expect(o.lines.map((l) => [l.method, l.tool])).toEqual([
      ["bogus", undefined],
      ["tools/call", "client-made-up-name"],
    ]);
  });

  it("passes a missing scope on to the transport, counted and logged as 403", async () => {
    const o = observe("streamable");
    const session: Exchange = {
      era: "session",
      signal: live,
      clientCapabilities: {},
      logLevel: undefined,
      notify: () => {},
      session: {} as never,
      identity: { subject: "carol", scopes: new Set(), claims: {}, token: "opaque-secret-token" },
    };
    const run = o.run(async () => {
      throw new InsufficientScopeError(["inventory.write"]);
    });
    await expect(
      run({ jsonrpc: "2.0", id: "x", method: "tools/call", params: { name: "known_tool" } }, session),
    ).rejects.toBeInstanceOf(InsufficientScopeError);
    expect(o.lines).toEqual([
      expect.objectContaining({
        era: "session",
        transport: "streamable",
        outcome: "insufficient_scope",
        status: 403,
        subject: "carol",
        tool: "known_tool",
      }),
    ]);
    expect(JSON.stringify(o.lines)).not.toContain("opaque-secret-token");
    const text = await o.metrics.registry.metrics();
    expect(text).toContain(
      'mcpengine_requests_total{era="session",method="tools/call",outcome="insufficient_scope"} 1',
    );
  });

  it("counts a refusal over a limit by limit and scope, and as a limited request, without timing it", async () => {
    const o = observe("streamable");
    const session: Exchange = { ...stateless, era: "session", session: {} as never } as Exchange;
    await o.run(async () => limited)({ jsonrpc: "2.0", id: 1, method: "tools/list" }, session);
    expect(o.lines).toEqual([
      expect.objectContaining({
        transport: "streamable",
        outcome: "limited",
        status: 429,
        error: "rate limit of 5 requests/s per caller exceeded; retry after 1s",
      }),
    ]);
    const text = await o.metrics.registry.metrics();
    expect(text).toContain('mcpengine_requests_limited_total{limit="rate",scope="caller"} 1');
    expect(text).toContain('mcpengine_requests_total{era="session",method="tools/list",outcome="limited"} 1');
    expect(text).not.toContain("mcpengine_request_duration_seconds_count{");
  });

  it("logs a 2024-11-05 request as 202, its response going on the SSE stream", async () => {
    const o = observe("legacy");
    await o.run(async () => ok)({ jsonrpc: "2.0", id: 3, method: "tools/list" }, stateless);
    expect(o.lines).toEqual([expect.objectContaining({ transport: "legacy", status: 202, outcome: "ok" })]);
  });
});
