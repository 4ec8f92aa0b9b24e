import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rig, startRig } from "./rig.js";

/** A caller's span context (W3C Trace Context §3.2): version, trace id, parent span id, flags (sampled). */
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const GET = { name: "inv_get_http_item", arguments: { sku: "A1" } };

/** `version-traceid-parentid-flags` of a traceparent. */
function parse(traceparent: string | null | undefined) {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent ?? "");
  if (!m) throw new Error(`not a traceparent: ${traceparent}`);
  return { traceId: m[1] as string, parentId: m[2] as string, flags: m[3] as string };
}

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.close();
  trace.disable();
});

async function callTool(headers: Record<string, string> = {}, meta: Record<string, string> = {}) {
  const before = rig.seen.length;
  const res = await fetch(`${rig.base}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": GET.name,
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        ...GET,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
          ...meta,
        },
      },
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { result: { isError?: boolean } };
  expect(body.result.isError).toBeUndefined();
  expect(rig.seen.length).toBe(before + 1);
  return rig.seen[before] as Headers;
}

describe("without an OpenTelemetry SDK (the API alone is a no-op)", () => {
  it("passes the caller's trace context on to the backend unchanged", async () => {
    const seen = await callTool({ traceparent: TRACEPARENT, tracestate: "vendor=1" });
    expect(seen.get("traceparent")).toBe(TRACEPARENT);
    expect(seen.get("tracestate")).toBe("vendor=1");
  });

  it("sends no trace context when the caller sent none", async () => {
    const seen = await callTool();
    expect(seen.get("traceparent")).toBeNull();
  });

  it("ignores a malformed traceparent", async () => {
    const seen = await callTool({ traceparent: "00-not-a-trace-01" });
    expect(seen.get("traceparent")).toBeNull();
  });
});

describe("with an SDK registered after the gateway started", () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  });

  /** The spans of one request: the MCP span and the backend call's. */
  function spansOf(traceId: string): { mcp: ReadableSpan; grpc: ReadableSpan } {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const mcp = spans.find((s) => s.name === "mcp tools/call");
    const grpc = spans.find((s) => s.name === "grpc mcpengine.testing.v1.InventoryService/GetHTTPItem");
    if (!mcp || !grpc) throw new Error(`spans of ${traceId}: ${spans.map((s) => s.name).join(", ")}`);
    expect(spans).toHaveLength(2);
    return { mcp, grpc };
  }

  it("continues the caller's trace from the traceparent header: MCP span, gRPC span, backend, in that order", async () => {
    exporter.reset();
    const seen = await callTool({ traceparent: TRACEPARENT });
    const sent = parse(seen.get("traceparent"));
    expect(sent.traceId).toBe(TRACE_ID);
    const { mcp, grpc } = spansOf(TRACE_ID);
    // caller → mcp (server) → grpc (client) → backend
    expect(mcp.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(mcp.parentSpanContext?.isRemote).toBe(true);
    expect(grpc.parentSpanContext?.spanId).toBe(mcp.spanContext().spanId);
    expect(sent.parentId).toBe(grpc.spanContext().spanId);
    expect(sent.flags).toBe("01");
    expect(mcp.kind).toBe(SpanKind.SERVER);
    expect(mcp.attributes).toMatchObject({
      "mcp.method.name": "tools/call",
      "mcp.era": "stateless",
      "mcp.outcome": "ok",
      "gen_ai.tool.name": "inv_get_http_item",
    });
    expect(grpc.kind).toBe(SpanKind.CLIENT);
    expect(grpc.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "mcpengine.testing.v1.InventoryService",
      "rpc.method": "GetHTTPItem",
      "rpc.grpc.status_code": 0,
      "mcpengine.backend": "inv",
    });
  });

  it("prefers the trace context in params._meta (SEP-414) to the HTTP headers", async () => {
    exporter.reset();
    const other = `00-${"a".repeat(32)}-${"b".repeat(16)}-01`;
    const seen = await callTool({ traceparent: other }, { traceparent: TRACEPARENT, tracestate: "mcp=1" });
    expect(parse(seen.get("traceparent")).traceId).toBe(TRACE_ID);
    expect(seen.get("tracestate")).toBe("mcp=1");
    const { mcp } = spansOf(TRACE_ID);
    expect(mcp.parentSpanContext?.spanId).toBe(CALLER_SPAN);
  });

  it("starts a trace of its own when the caller sent none, and the backend joins it", async () => {
    exporter.reset();
    const seen = await callTool();
    const sent = parse(seen.get("traceparent"));
    const { mcp, grpc } = spansOf(sent.traceId);
    expect(mcp.parentSpanContext).toBeUndefined();
    expect(sent.parentId).toBe(grpc.spanContext().spanId);
  });

  it("marks a failed backend call's spans as errors with the gRPC code", async () => {
    exporter.reset();
    const res = await rig.call(
      2,
      "tools/call",
      { name: "inv_get_http_item", arguments: { sku: "down" } },
      { traceparent: TRACEPARENT },
    );
    await res.text();
    const { mcp, grpc } = spansOf(TRACE_ID);
    expect(grpc.status.code).toBe(SpanStatusCode.ERROR);
    expect(grpc.attributes["rpc.grpc.status_code"]).toBe(14);
    expect(mcp.attributes["mcp.outcome"]).toBe("tool_error");
    expect(mcp.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("continues a session-era request's trace from its HTTP headers", async () => {
    exporter.reset();
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await fetch(`${rig.base}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    const before = rig.seen.length;
    const res = await fetch(`${rig.base}/mcp`, {
      method: "POST",
      headers: {
        ...headers,
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
        traceparent: TRACEPARENT,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: GET }),
    });
    await res.text();
    const sent = parse(rig.seen[before]?.get("traceparent"));
    expect(sent.traceId).toBe(TRACE_ID);
    const { mcp, grpc } = spansOf(TRACE_ID);
    expect(mcp.attributes["mcp.era"]).toBe("session");
    expect(sent.parentId).toBe(grpc.spanContext().spanId);
  });

  it("puts the trace id on the request's log line", async () => {
    const before = rig.lines().length;
    await callTool({ traceparent: TRACEPARENT });
    const line = rig
      .lines()
      .slice(before)
      .find((l) => l.msg === "mcp request");
    expect(line?.traceId).toBe(TRACE_ID);
  });
});
