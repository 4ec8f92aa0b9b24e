import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { DEFAULT_SESSION_LIMITS } from "../../src/http/index.js";
import { eventLogBounds } from "../../src/http/mcp-http.js";
import { createMemorySharedState } from "../../src/sessions/memory.js";
import type { SharedState } from "../../src/sessions/types.js";
import { PROGRESS_STEPS, type ReplicaBackend, startReplicaBackend } from "../support/replicas/backend.js";
import {
  type Loose,
  mcpGet,
  mcpPost,
  openSession as openSessionOn,
  progressOf,
  readEvents,
  responseOf,
  SESSION_VERSION,
  SseReader,
  updatesOf,
} from "../support/replicas/client.js";

/**
 * Several gateway replicas in front of one backend, sharing one session state,
 * and a client that sends each request of its session to another replica (no
 * affinity): what a load balancer without sticky sessions does.
 */

let backend: ReplicaBackend;
let state: SharedState;
let replicas: HttpListener[];

async function startReplica(): Promise<HttpListener> {
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [
        { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
      ],
    }),
    { source: "test" },
  );
  return (await createGateway(config, { state })).listen();
}

beforeAll(async () => {
  backend = await startReplicaBackend();
  state = createMemorySharedState({ bounds: eventLogBounds(DEFAULT_SESSION_LIMITS) });
  replicas = [await startReplica(), await startReplica(), await startReplica()];
});
afterAll(async () => {
  for (const r of replicas ?? []) await r.close();
  await state?.close();
  await backend?.close();
});

const url = (replica: number) => (replicas[replica] as HttpListener).url;
const post = (replica: number, body: unknown, session?: string) => mcpPost(url(replica), body, session);
const get = (replica: number, session: string, lastEventId?: string) =>
  mcpGet(url(replica), session, lastEventId);
const openSession = (replica: number, capabilities: Loose = {}) =>
  openSessionOn(url(replica), url((replica + 1) % replicas.length), capabilities);

describe("replicas sharing session state, no affinity", () => {
  it("serves each request of a session on another replica", async () => {
    const session = await openSession(0);
    for (let i = 0; i < 6; i++) {
      const res = await post(i % 3, { jsonrpc: "2.0", id: 10 + i, method: "tools/list" }, session);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Loose;
      expect(body.result.tools.length).toBeGreaterThan(5);
    }
    const gone = await fetch(`${url(2)}/mcp`, {
      method: "DELETE",
      headers: { "mcp-session-id": session, "mcp-protocol-version": SESSION_VERSION },
    });
    expect(gone.status).toBe(200);
    const after = await post(1, { jsonrpc: "2.0", id: 99, method: "tools/list" }, session);
    expect(after.status).toBe(404);
  });

  it("resumes a call's stream on another replica while the first one still runs it: every event once, in order", async () => {
    const session = await openSession(0);
    const call = {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: "p" } },
    };
    const res = await post(0, call, session);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const first = await readEvents(res, (ev) => progressOf(ev).length >= 5);
    const last = first.filter((e) => e.id).at(-1)?.id as string;
    expect(last).toBeTruthy();
    // The client's connection to replica 0 is gone; replica 0 goes on producing, replica 2 relays.
    const resumed = await readEvents(await get(2, session, last), (ev) => responseOf(ev, 7) !== undefined);
    const progress = [...progressOf(first), ...progressOf(resumed)];
    expect(progress).toEqual(Array.from({ length: PROGRESS_STEPS }, (_, i) => i + 1));
    expect(responseOf(resumed, 7)?.data.result.content[0].text).toBe("done");
    const ids = [...first, ...resumed].map((e) => e.id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("takes the answer to an elicitation on another replica than the one that asked", async () => {
    const session = await openSession(1, { elicitation: {} });
    const call = {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "test_elicitation", arguments: { message: "who?" } },
    };
    const stream = new SseReader(await post(1, call, session));
    const events = await stream.until((ev) => ev.some((e) => e.data?.method === "elicitation/create"));
    const asked = events.find((e) => e.data?.method === "elicitation/create")?.data;
    expect(asked?.id).toBeDefined();
    const answer = { action: "accept", content: { username: "ada", email: "ada@example.com" } };
    const ack = await post(2, { jsonrpc: "2.0", id: asked.id, result: answer }, session);
    expect(ack.status).toBe(202);
    const all = await stream.until((ev) => responseOf(ev, 3) !== undefined);
    stream.close();
    const text = responseOf(all, 3)?.data.result.content[0].text as string;
    expect(text).toContain("ada@example.com");
  });

  it("cancels a call running on one replica from a notifications/cancelled sent to another", async () => {
    const session = await openSession(0);
    const before = backend.cancelled;
    const call = {
      jsonrpc: "2.0",
      id: 4,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: 1 } },
    };
    const stream = new SseReader(await post(0, call, session));
    await stream.until((ev) => progressOf(ev).length >= 2);
    const note = {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 4, reason: "changed my mind" },
    };
    expect((await post(2, note, session)).status).toBe(202);
    for (let i = 0; i < 100 && backend.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(backend.cancelled).toBe(before + 1);
    // The receiver of notifications/cancelled does not respond (basic/utilities/cancellation): the stream just ends.
    const events = await stream.until(() => false);
    expect(stream.ended).toBe(true);
    expect(responseOf(events, 4)).toBeUndefined();
  });

  it("ends a cancelled request's JSON reply without a response", async () => {
    const session = await openSession(0);
    const before = backend.cancelled;
    const call = {
      jsonrpc: "2.0",
      id: 8,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {} },
    };
    const reply = mcpPost(url(0), call, session, "application/json");
    await new Promise((r) => setTimeout(r, 300));
    const note = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 8 } };
    expect((await post(1, note, session)).status).toBe(202);
    const res = await reply;
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
    for (let i = 0; i < 100 && backend.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(backend.cancelled).toBe(before + 1);
  });

  it("resumes the GET stream on another replica after the client left the one holding it: every update once, in order", async () => {
    const session = await openSession(0);
    const sub = await post(
      0,
      { jsonrpc: "2.0", id: 5, method: "resources/subscribe", params: { uri: "test://watched-resource" } },
      session,
    );
    expect(sub.status).toBe(200);
    await sub.body?.cancel();
    // The watch runs on replica 0; the GET stream sits on replica 1, which the client then leaves.
    const first = await readEvents(await get(1, session), (ev) => ev.filter((e) => e.data).length >= 3);
    const last = first.filter((e) => e.id).at(-1)?.id as string;
    const resumed = await readEvents(await get(2, session, last), (ev) => ev.length >= 4);
    const numbers = updatesOf([...first, ...resumed]);
    expect(numbers.length).toBeGreaterThanOrEqual(7);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => (numbers[0] as number) + i));
    // Unsubscribing through replica 2 ends the watch running on replica 0.
    const ended = backend.watchesEnded;
    const unsub = {
      jsonrpc: "2.0",
      id: 6,
      method: "resources/unsubscribe",
      params: { uri: "test://watched-resource" },
    };
    expect((await post(2, unsub, session)).status).toBe(200);
    for (let i = 0; i < 100 && backend.watchesEnded === ended; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(backend.watchesEnded).toBe(ended + 1);
  });

  it("answers 2024-11-05 messages posted to other replicas on the session's stream", async () => {
    const res = await fetch(`${url(0)}/sse`, { headers: { accept: "text/event-stream" } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const next = async (until: (t: string) => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!until(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await next((t) => t.includes("sessionId="));
    const path = (/data: (\/messages\?sessionId=\S+)/.exec(text) as RegExpExecArray)[1] as string;
    const send = (replica: number, body: unknown) =>
      fetch(`${url(replica)}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const init = {
      protocolVersion: "2024-11-05",
      capabilities: {},
      clientInfo: { name: "legacy", version: "1" },
    };
    expect((await send(1, { jsonrpc: "2.0", id: 1, method: "initialize", params: init })).status).toBe(202);
    expect((await send(2, { jsonrpc: "2.0", id: 2, method: "tools/list" })).status).toBe(202);
    await next((t) => t.includes('"id":2'));
    void reader.cancel();
    const answers = text
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)) as Loose);
    expect(answers.find((a) => a.id === 1)?.result.protocolVersion).toBe("2024-11-05");
    expect(answers.find((a) => a.id === 2)?.result.tools.length).toBeGreaterThan(5);
  });
});

describe("a session whose call outlasts the idle timeout", () => {
  let gateway: HttpListener;
  beforeAll(async () => {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        sessions: { idleTimeout: "2s" },
        backends: [
          { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
        ],
      }),
      { source: "test" },
    );
    gateway = await (await createGateway(config)).listen();
  });
  afterAll(() => gateway?.close());

  it("is not closed as idle right after the call ends", async () => {
    const session = await openSessionOn(gateway.url, gateway.url);
    // The progress tool runs 2 s, as long as the idle timeout; sweeps run every second.
    const call = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {} },
    };
    const res = await mcpPost(gateway.url, call, session, "application/json");
    expect(((await res.json()) as Loose).result.content[0].text).toBe("done");
    // A sweep has run since the call ended; the session was last active when it ended, under 2 s ago.
    await new Promise((r) => setTimeout(r, 1_200));
    const after = await mcpPost(gateway.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, session);
    expect(after.status).toBe(200);
  });
});
