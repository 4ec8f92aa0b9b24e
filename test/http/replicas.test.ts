import { Server, ServerCredentials, type ServerWritableStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEverythingService } from "../../examples/conformance/service.js";
import { addReflection } from "../../examples/shared/reflection.js";
import { EverythingServiceService } from "../../gen/grpc-js/conformance/v1/everything.js";
import type { Empty } from "../../gen/grpc-js/google/protobuf/empty.js";
import type { ResourceUpdate, ToolEvent, WatchResourceRequest } from "../../gen/grpc-js/mcpengine/v1/mcp.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { DEFAULT_SESSION_LIMITS } from "../../src/http/index.js";
import { eventLogBounds } from "../../src/http/mcp-http.js";
import { createMemorySharedState } from "../../src/sessions/memory.js";
import type { SharedState } from "../../src/sessions/types.js";

/**
 * Several gateway replicas in front of one backend, sharing one session state,
 * and a client that sends each request of its session to another replica (no
 * affinity): what a load balancer without sticky sessions does.
 */

/** Steps of the slow streaming tool; the backend counts the calls that were cancelled. */
const STEPS = 40;
let cancelled = 0;
/** Resource watches the gateway ended. */
let watchesEnded = 0;
let backend: { port: number; close(): Promise<void> };

async function startBackend() {
  const server = new Server();
  server.addService(EverythingServiceService, {
    ...createEverythingService(),
    // Progress every 50 ms for 2 s, so a client can leave and come back in the middle.
    toolWithProgress: async (call: ServerWritableStream<Empty, ToolEvent>) => {
      for (let i = 1; i <= STEPS; i++) {
        if (call.cancelled) {
          cancelled++;
          return;
        }
        call.write({ progress: { progress: i, total: STEPS, message: `step ${i}` } } as ToolEvent);
        await new Promise((r) => setTimeout(r, 50));
      }
      call.write({
        result: { content: [{ text: { text: "done" } }], isError: false },
      } as unknown as ToolEvent);
      call.end();
    },
    // Numbered updates, so a client can tell each one apart.
    watchResource: async (call: ServerWritableStream<WatchResourceRequest, ResourceUpdate>) => {
      for (let n = 1; !call.cancelled && n < 1_000; n++) {
        await new Promise((r) => setTimeout(r, 40));
        if (!call.cancelled) call.write({ uri: `${call.request.uri}?n=${n}` });
      }
      if (call.cancelled) watchesEnded++;
      call.end();
    },
  });
  addReflection(server, ["conformance.v1.EverythingService"]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 500).unref();
      }),
  };
}

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
  backend = await startBackend();
  state = createMemorySharedState({ bounds: eventLogBounds(DEFAULT_SESSION_LIMITS) });
  replicas = [await startReplica(), await startReplica(), await startReplica()];
});
afterAll(async () => {
  for (const r of replicas ?? []) await r.close();
  await state?.close();
  await backend?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON-RPC payloads
type Loose = any;
interface Event {
  id?: string;
  data: Loose;
}

const VERSION = "2025-11-25";

function post(replica: number, body: unknown, session?: string): Promise<Response> {
  return fetch(`${(replicas[replica] as HttpListener).url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": VERSION,
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify(body),
  });
}

function get(
  replica: number,
  session: string,
  lastEventId?: string,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${(replicas[replica] as HttpListener).url}/mcp`, {
    headers: {
      accept: "text/event-stream",
      "mcp-protocol-version": VERSION,
      "mcp-session-id": session,
      ...(lastEventId ? { "last-event-id": lastEventId } : {}),
    },
    ...(signal ? { signal } : {}),
  });
}

async function openSession(replica: number, capabilities: Loose = {}): Promise<string> {
  const res = await post(replica, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: VERSION, capabilities, clientInfo: { name: "replica-test", version: "1" } },
  });
  expect(res.status).toBe(200);
  const id = res.headers.get("mcp-session-id") as string;
  await res.body?.cancel();
  const ack = await post(replica + 1, { jsonrpc: "2.0", method: "notifications/initialized" }, id);
  expect(ack.status).toBe(202);
  return id;
}

/** An SSE response read bit by bit: `until` reads on until a condition holds, the stream ends, or 10 s pass. */
class SseReader {
  readonly events: Event[] = [];
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";
  ended = false;

  constructor(res: Response) {
    this.reader = (res.body as ReadableStream<Uint8Array>).getReader();
  }

  async until(done: (events: Event[]) => boolean): Promise<Event[]> {
    const deadline = Date.now() + 10_000;
    while (!done(this.events) && !this.ended && Date.now() < deadline) {
      const { value, done: end } = await this.reader.read();
      if (end) {
        this.ended = true;
        break;
      }
      this.buffer += this.decoder.decode(value, { stream: true });
      for (let cut = this.buffer.indexOf("\n\n"); cut >= 0; cut = this.buffer.indexOf("\n\n")) {
        const frame = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 2);
        let id: string | undefined;
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data.trim()) this.events.push({ ...(id ? { id } : {}), data: JSON.parse(data) });
      }
    }
    return this.events;
  }

  /** Leaves: the connection is closed as a client that goes away would. */
  close(): void {
    void this.reader.cancel().catch(() => {});
  }
}

/** Reads a whole SSE response until `until` holds, then leaves. */
async function readEvents(res: Response, until: (events: Event[]) => boolean): Promise<Event[]> {
  const reader = new SseReader(res);
  const events = await reader.until(until);
  reader.close();
  return events;
}

const progressOf = (events: Event[]) =>
  events
    .filter((e) => e.data?.method === "notifications/progress")
    .map((e) => e.data.params.progress as number);
const responseOf = (events: Event[], id: number) => events.find((e) => e.data?.id === id && !e.data.method);

describe("replicas sharing session state, no affinity", () => {
  it("serves each request of a session on another replica", async () => {
    const session = await openSession(0);
    for (let i = 0; i < 6; i++) {
      const res = await post(i % 3, { jsonrpc: "2.0", id: 10 + i, method: "tools/list" }, session);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Loose;
      expect(body.result.tools.length).toBeGreaterThan(5);
    }
    const gone = await fetch(`${(replicas[2] as HttpListener).url}/mcp`, {
      method: "DELETE",
      headers: { "mcp-session-id": session, "mcp-protocol-version": VERSION },
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
    expect(progress).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
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
    const before = cancelled;
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
    for (let i = 0; i < 100 && cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toBe(before + 1);
    // The receiver of notifications/cancelled does not respond (basic/utilities/cancellation): the stream just ends.
    const events = await stream.until(() => false);
    expect(stream.ended).toBe(true);
    expect(responseOf(events, 4)).toBeUndefined();
  });

  it("ends a cancelled request's JSON reply without a response", async () => {
    const session = await openSession(0);
    const before = cancelled;
    const call = {
      jsonrpc: "2.0",
      id: 8,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {} },
    };
    const reply = fetch(`${(replicas[0] as HttpListener).url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "mcp-protocol-version": VERSION,
        "mcp-session-id": session,
      },
      body: JSON.stringify(call),
    });
    await new Promise((r) => setTimeout(r, 300));
    const note = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 8 } };
    expect((await post(1, note, session)).status).toBe(202);
    const res = await reply;
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
    for (let i = 0; i < 100 && cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toBe(before + 1);
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
    const numbers = [...first, ...resumed]
      .filter((e) => e.data?.method === "notifications/resources/updated")
      .map((e) => Number(new URL(e.data.params.uri).searchParams.get("n")));
    expect(numbers.length).toBeGreaterThanOrEqual(7);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => (numbers[0] as number) + i));
    // Unsubscribing through replica 2 ends the watch running on replica 0.
    const ended = watchesEnded;
    const unsub = {
      jsonrpc: "2.0",
      id: 6,
      method: "resources/unsubscribe",
      params: { uri: "test://watched-resource" },
    };
    expect((await post(2, unsub, session)).status).toBe(200);
    for (let i = 0; i < 100 && watchesEnded === ended; i++) await new Promise((r) => setTimeout(r, 20));
    expect(watchesEnded).toBe(ended + 1);
  });
});
