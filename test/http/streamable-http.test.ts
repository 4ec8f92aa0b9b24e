import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStreamableHttpHandler, type HttpListener, listen } from "../../src/http/index.js";
import { type McpServer, success } from "../../src/mcp/index.js";

/** A protocol core that echoes the method name, or throws for "explode". */
const echoServer: McpServer = {
  async handle(req) {
    if (req.method === "explode") throw new Error("kaboom");
    return req.id === undefined ? undefined : success(req.id, { method: req.method });
  },
};

let http: HttpListener;
let url: string;

beforeAll(async () => {
  const handler = createStreamableHttpHandler({ server: echoServer, maxBodyBytes: 1024 });
  http = await listen("127.0.0.1", 0, new Map([["/mcp", handler]]));
  url = `${http.url}/mcp`;
});
afterAll(() => http.close());

function post(body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
}

describe("Streamable HTTP endpoint", () => {
  it("answers a request with a JSON-RPC response", async () => {
    const res = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 1, result: { method: "ping" } });
  });

  it("accepts notifications and responses with 202 and no body", async () => {
    const n = await post(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
    expect(n.status).toBe(202);
    expect(await n.text()).toBe("");
    const r = await post(JSON.stringify({ jsonrpc: "2.0", id: 9, result: {} }));
    expect(r.status).toBe(202);
  });

  it("answers malformed JSON with a parse error", async () => {
    const res = await post("{not json");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ id: null, error: { code: -32700 } });
  });

  it("answers a non-JSON-RPC body with an invalid request error", async () => {
    const res = await post(JSON.stringify({ hello: "world" }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const res = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x".repeat(4096) }));
    expect(res.status).toBe(413);
    const again = await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }));
    expect(again.status).toBe(200);
  });

  it("refuses a body that is not declared as JSON", async () => {
    const res = await post("{}", { "content-type": "text/plain" });
    expect(res.status).toBe(415);
  });

  it("refuses an unsupported MCP-Protocol-Version header", async () => {
    const res = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }), {
      "mcp-protocol-version": "1999-01-01",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("answers GET and DELETE with 405 while it offers no standalone stream", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(url, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
    }
  });

  it("turns a crashing handler into a 500 and keeps serving", async () => {
    const res = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "explode" }));
    expect(res.status).toBe(500);
    const again = await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }));
    expect(again.status).toBe(200);
  });

  it("serves /healthz and 404 elsewhere", async () => {
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${http.url}/nope`)).status).toBe(404);
  });
});
