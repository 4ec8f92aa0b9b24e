import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEverything, startEverything } from "../../examples/conformance/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";

/**
 * The HTTP transports of every protocol era, against the conformance fixture
 * behind a real gateway: raw HTTP so that each header and status is visible.
 */
let backend: RunningEverything;
let http: HttpListener;
let url: string;

const STATELESS = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": STATELESS,
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
};

beforeAll(async () => {
  backend = await startEverything();
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      maxBodyBytes: 4096,
      backends: [
        { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
      ],
    }),
    { source: "test" },
  );
  http = await (await createGateway(config)).listen();
  url = `${http.url}/mcp`;
});
afterAll(async () => {
  await http?.close();
  await backend?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON-RPC payloads
type Loose = any;
const json = (res: Response): Promise<Loose> => res.json();

function post(body: unknown, headers: Record<string, string> = {}, target = url) {
  return fetch(target, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A stateless (2026-07-28) request with matching headers. */
function statelessCall(
  method: string,
  params: Record<string, unknown> = {},
  extra: Record<string, string> = {},
) {
  const name = method === "resources/read" ? params.uri : params.name;
  return post(
    { jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: META } },
    {
      "mcp-protocol-version": STATELESS,
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
      ...extra,
    },
  );
}

/** A session-era call to the fixture tool that asks the client for sampling. */
const SAMPLING_CALL = {
  jsonrpc: "2.0",
  id: 9,
  method: "tools/call",
  params: { name: "test_sampling", arguments: { prompt: "hi" } },
};

/** Opens a session (2025-11-25) and returns its id. */
async function openSession(capabilities: Record<string, unknown> = {}, target = url): Promise<string> {
  const res = await post(
    {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities, clientInfo: { name: "t", version: "1" } },
    },
    {},
    target,
  );
  expect(res.status).toBe(200);
  const id = res.headers.get("mcp-session-id");
  expect(id).toBeTruthy();
  await json(res);
  return id as string;
}

/** Reads SSE events (data fields parsed as JSON) until `until` says stop or the stream ends. */
async function readEvents(
  res: Response,
  until: (events: { id?: string; data: unknown }[]) => boolean,
): Promise<{ id?: string; data: unknown }[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { id?: string; data: unknown }[] = [];
  let buffer = "";
  while (!until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id: string | undefined;
      let data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data.trim()) events.push({ ...(id ? { id } : {}), data: JSON.parse(data) });
      else if (id) events.push({ id, data: null });
      cut = buffer.indexOf("\n\n");
    }
  }
  await reader.cancel();
  return events;
}

describe("sessions (2025-03-26 … 2025-11-25)", () => {
  it("creates a session on initialize and serves requests in it", async () => {
    const session = await openSession();
    const res = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": session });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.result.tools.map((t: { name: string }) => t.name)).toContain("test_simple_text");
  });

  it("refuses requests without a session, and unknown sessions with 404", async () => {
    const none = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(none.status).toBe(400);
    const unknown = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": "nope" });
    expect(unknown.status).toBe(404);
  });

  it("ends a session on DELETE", async () => {
    const session = await openSession();
    const del = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": session } });
    expect(del.status).toBe(200);
    const after = await post({ jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": session });
    expect(after.status).toBe(404);
  });

  it("streams progress on the POST's SSE stream, with event ids and a priming event", async () => {
    const session = await openSession();
    const res = await post(
      {
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: "p" } },
      },
      { "mcp-session-id": session },
    );
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    const events = await readEvents(res, () => false);
    expect(events[0]).toMatchObject({ data: null });
    const progress = events.filter(
      (e) => (e.data as { method?: string })?.method === "notifications/progress",
    );
    expect(progress.map((e) => (e.data as { params: { progress: number } }).params.progress)).toEqual([
      0, 50, 100,
    ]);
    expect(events.at(-1)?.data).toMatchObject({ id: 7, result: { content: [{ type: "text" }] } });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it("resumes a dropped stream with Last-Event-ID and loses no event", async () => {
    const session = await openSession();
    const res = await post(
      {
        jsonrpc: "2.0",
        id: 8,
        method: "tools/call",
        params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: "r" } },
      },
      { "mcp-session-id": session },
    );
    // Drop the connection after the first progress event.
    const first = await readEvents(res, (ev) => ev.some((e) => e.data !== null));
    const lastId = first.at(-1)?.id as string;
    expect(lastId).toBeTruthy();
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await fetch(url, {
      headers: { accept: "text/event-stream", "mcp-session-id": session, "last-event-id": lastId },
    });
    expect(resumed.status).toBe(200);
    const rest = await readEvents(resumed, () => false);
    const all = [...first, ...rest].filter((e) => e.data !== null);
    const progress = all
      .filter((e) => (e.data as { method?: string }).method === "notifications/progress")
      .map((e) => (e.data as { params: { progress: number } }).params.progress);
    expect(progress).toEqual([0, 50, 100]);
    expect(all.at(-1)?.data).toMatchObject({ id: 8, result: {} });
  });

  it("refuses a backend's input request the client has no capability for", async () => {
    const session = await openSession();
    const res = await post(SAMPLING_CALL, { "mcp-session-id": session });
    expect((await json(res)).error).toMatchObject({ code: -32021 });
  });

  it("fails fast when the backend needs input but the POST does not accept SSE", async () => {
    const session = await openSession({ sampling: {} });
    const res = await post(SAMPLING_CALL, { "mcp-session-id": session, accept: "application/json" });
    expect((await json(res)).error).toMatchObject({ code: -32600 });
  });

  it("sends server-to-client requests on the request's stream and continues with the answer", async () => {
    const session = await openSession({ sampling: {} });
    const res = await post(SAMPLING_CALL, { "mcp-session-id": session });
    const asked = await readEvents(res, (ev) => ev.some((e) => (e.data as { method?: string })?.method));
    const request = asked.find((e) => (e.data as { method?: string })?.method)?.data as {
      id: string;
      method: string;
    };
    expect(request.method).toBe("sampling/createMessage");
    // The connection was dropped; the answer arrives, and the result is replayed on resumption.
    const answer = await post(
      {
        jsonrpc: "2.0",
        id: request.id,
        result: {
          role: "assistant",
          content: { type: "text", text: "42" },
          model: "m",
          stopReason: "endTurn",
        },
      },
      { "mcp-session-id": session },
    );
    expect(answer.status).toBe(202);
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await fetch(url, {
      headers: {
        accept: "text/event-stream",
        "mcp-session-id": session,
        "last-event-id": asked.at(-1)?.id ?? "",
      },
    });
    const rest = await readEvents(resumed, () => false);
    expect(rest.at(-1)?.data).toMatchObject({ id: 9, result: { content: [{ text: "LLM response: 42" }] } });
  });

  it("opens one standalone GET stream per session", async () => {
    const session = await openSession();
    const headers = { accept: "text/event-stream", "mcp-session-id": session };
    const first = await fetch(url, { headers });
    expect(first.status).toBe(200);
    const second = await fetch(url, { headers });
    expect(second.status).toBe(409);
    await first.body?.cancel();
  });
});

describe("stateless (2026-07-28)", () => {
  it("answers with resultType and cache hints", async () => {
    const res = await statelessCall("tools/list");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.result).toMatchObject({ resultType: "complete", cacheScope: "public" });
    expect(Number.isInteger(body.result.ttlMs)).toBe(true);
  });

  it("validates _meta and the headers against the body", async () => {
    const noMeta = await post(
      { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
      { "mcp-protocol-version": STATELESS, "mcp-method": "tools/list" },
    );
    expect(noMeta.status).toBe(400);
    expect((await json(noMeta)).error.code).toBe(-32602);
    const wrongMethod = await statelessCall("tools/list", {}, { "mcp-method": "prompts/list" });
    expect(wrongMethod.status).toBe(400);
    expect((await json(wrongMethod)).error.code).toBe(-32020);
    const wrongName = await statelessCall(
      "tools/call",
      { name: "test_simple_text" },
      { "mcp-name": "other" },
    );
    expect((await json(wrongName)).error.code).toBe(-32020);
    const unknown = await statelessCall("initialize");
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe(-32601);
  });

  it("checks Mcp-Param headers against the arguments they mirror", async () => {
    const name = "test_custom_headers";
    const list = await json(await statelessCall("tools/list"));
    const tool = list.result.tools.find((t: { name: string }) => t.name === name);
    expect(tool.inputSchema.properties.region["x-mcp-header"]).toBe("Region");
    const args = { name, arguments: { region: "eu-west1", query: "q" } };
    const ok = await statelessCall("tools/call", args, { "mcp-param-region": "eu-west1" });
    expect((await json(ok)).result.content[0].text).toBe("Ran in eu-west1: q");
    const encoded = await statelessCall("tools/call", args, {
      "mcp-param-region": `=?base64?${Buffer.from("eu-west1").toString("base64")}?=`,
    });
    expect(encoded.status).toBe(200);
    for (const headers of [
      {},
      { "mcp-param-region": "us-east1" },
      { "mcp-param-region": "=?base64?ZXU?=" },
    ]) {
      const res = await statelessCall("tools/call", args, headers);
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe(-32020);
    }
  });

  it("streams resource updates on subscriptions/listen, acknowledged first and tagged", async () => {
    const res = await statelessCall("subscriptions/listen", {
      notifications: { resourceSubscriptions: ["test://watched-resource"], toolsListChanged: true },
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = await readEvents(res, (ev) => ev.length >= 2);
    const [ack, update] = events.map((e) => e.data as Loose);
    expect(ack).toMatchObject({
      method: "notifications/subscriptions/acknowledged",
      params: {
        _meta: { "io.modelcontextprotocol/subscriptionId": 1 },
        notifications: { resourceSubscriptions: ["test://watched-resource"] },
      },
    });
    // The catalog can change (a late backend, a reload): list changes are honoured too.
    expect(ack.params.notifications.toolsListChanged).toBe(true);
    expect(update).toMatchObject({
      method: "notifications/resources/updated",
      params: { uri: "test://watched-resource", _meta: { "io.modelcontextprotocol/subscriptionId": 1 } },
    });
  });

  it("refuses an unsupported version, listing the supported ones", async () => {
    const res = await post(
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/list",
        params: { _meta: { ...META, "io.modelcontextprotocol/protocolVersion": "2099-01-01" } },
      },
      { "mcp-protocol-version": "2099-01-01", "mcp-method": "tools/list" },
    );
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body).toMatchObject({ id: 3, error: { code: -32022, data: { requested: "2099-01-01" } } });
    expect(body.error.data.supported).toContain(STATELESS);
  });

  it("runs the input-required round trip and refuses altered request state", async () => {
    const name = "test_input_required_result_request_state";
    const first = await json(await statelessCall("tools/call", { name, arguments: {} }));
    expect(first.result.resultType).toBe("input_required");
    const { requestState } = first.result;
    expect(typeof requestState).toBe("string");
    const inputResponses = { confirm: { action: "accept", content: { ok: true } } };
    const done = await json(
      await statelessCall("tools/call", { name, arguments: {}, inputResponses, requestState }),
    );
    expect(done.result.content[0].text).toContain("state-ok");
    const altered = { name, arguments: {}, inputResponses, requestState: `${requestState}x` };
    const tampered = await json(await statelessCall("tools/call", altered));
    expect(tampered.error.code).toBe(-32602);
  });

  it("refuses input the client cannot give with -32021 naming the capability", async () => {
    const res = await statelessCall("tools/call", { name: "test_missing_capability", arguments: {} });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { sampling: {} } },
    });
  });
});

describe("2024-11-05 HTTP+SSE", () => {
  it("announces the message endpoint and answers on the stream", async () => {
    const stream = await fetch(`${http.url}/sse`, { headers: { accept: "text/event-stream" } });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("\n\n")) text += decoder.decode((await reader.read()).value);
    const endpoint = /event: endpoint\ndata: (\S+)/.exec(text)?.[1] as string;
    expect(endpoint).toMatch(/^\/messages\?sessionId=/);
    const res = await fetch(`${http.url}${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 5,
        method: "tools/call",
        params: { name: "test_simple_text" },
      }),
    });
    expect(res.status).toBe(202);
    while (!text.includes('"id":5')) text += decoder.decode((await reader.read()).value);
    expect(text).toContain("This is a simple text response for testing.");
    await reader.cancel();
  });
});

describe("robustness", () => {
  it("answers malformed, invalid and batch bodies with JSON-RPC errors", async () => {
    const parse = await post("{not json");
    expect(parse.status).toBe(400);
    expect(await json(parse)).toMatchObject({ id: null, error: { code: -32700 } });
    const invalid = await post({ hello: "world" });
    expect((await json(invalid)).error.code).toBe(-32600);
    const batch = await post([{ jsonrpc: "2.0", id: 1, method: "ping" }]);
    expect((await json(batch)).error.code).toBe(-32600);
    const type = await post("{}", { "content-type": "text/plain" });
    expect(type.status).toBe(415);
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const res = await post({ jsonrpc: "2.0", id: 1, method: "x".repeat(8192) });
    expect(res.status).toBe(413);
    expect((await statelessCall("tools/list")).status).toBe(200);
  });

  it("refuses foreign Host and Origin headers (DNS rebinding)", async () => {
    const { request } = await import("node:http");
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
        });
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end("{}");
      });
    expect(await status({ host: "evil.example" })).toBe(403);
    expect(await status({ origin: "http://evil.example" })).toBe(403);
    expect(await status({ origin: "http://localhost:5173" })).not.toBe(403);
  });

  it("serves /healthz and 404 elsewhere", async () => {
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${http.url}/nope`)).status).toBe(404);
  });
});

describe("session bounds", () => {
  let bounded: HttpListener;
  let boundedUrl: string;
  beforeAll(async () => {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        sessions: { idleTimeout: "0.3s", maxSessions: 2 },
        backends: [
          { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
        ],
      }),
      { source: "test" },
    );
    bounded = await (await createGateway(config)).listen();
    boundedUrl = `${bounded.url}/mcp`;
  });
  afterAll(() => bounded?.close());

  const init = () => openSession({}, boundedUrl);
  const ping = async (session: string) => {
    const res = await post(
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { accept: "application/json", "mcp-session-id": session },
      boundedUrl,
    );
    await res.body?.cancel();
    return res.status;
  };

  it("closes the least recently used idle session to stay within max_sessions", async () => {
    const first = await init();
    const second = await init();
    // Distinct millisecond timestamps: "least recently used" must not be a tie.
    await new Promise((r) => setTimeout(r, 5));
    expect(await ping(first)).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    const third = await init();
    expect(await ping(second)).toBe(404);
    expect(await ping(first)).toBe(200);
    expect(await ping(third)).toBe(200);
  });

  it("expires idle sessions", async () => {
    const session = await init();
    expect(await ping(session)).toBe(200);
    await new Promise((r) => setTimeout(r, 2_200));
    expect(await ping(session)).toBe(404);
  });
});

describe("sessions per client", () => {
  let gateway: HttpListener;
  beforeAll(async () => {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        sessions: { maxSessions: 10, maxSessionsPerClient: 2 },
        backends: [
          { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
        ],
      }),
      { source: "test" },
    );
    gateway = await (await createGateway(config)).listen();
  });
  afterAll(() => gateway?.close());

  /** One JSON-RPC POST from a given loopback address (each address is a different client). */
  function from(
    address: string,
    body: unknown,
    session?: string,
  ): Promise<{ status: number; session?: string }> {
    const { port } = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          path: "/mcp",
          method: "POST",
          localAddress: address,
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            ...(session ? { "mcp-session-id": session } : {}),
          },
        },
        (res) => {
          res.resume();
          const sid = res.headers["mcp-session-id"];
          resolve({ status: res.statusCode ?? 0, ...(typeof sid === "string" ? { session: sid } : {}) });
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }
  const initialize = {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  };
  const ping = (address: string, session: string) =>
    from(address, { jsonrpc: "2.0", id: 1, method: "ping" }, session).then((r) => r.status);
  const open = async (address: string) => {
    const r = await from(address, initialize);
    expect(r.status).toBe(200);
    return r.session as string;
  };

  it("makes a client that opens too many sessions give up its own oldest idle one, not another client's", async () => {
    const a1 = await open("127.0.0.2");
    await new Promise((r) => setTimeout(r, 5));
    const b1 = await open("127.0.0.3");
    await new Promise((r) => setTimeout(r, 5));
    const a2 = await open("127.0.0.2");
    await new Promise((r) => setTimeout(r, 5));
    const a3 = await open("127.0.0.2");
    expect(await ping("127.0.0.2", a1)).toBe(404);
    expect(await ping("127.0.0.2", a2)).toBe(200);
    expect(await ping("127.0.0.2", a3)).toBe(200);
    expect(await ping("127.0.0.3", b1)).toBe(200);
  });
});
