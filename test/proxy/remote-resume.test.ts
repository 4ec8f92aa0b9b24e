import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONNECTION_CLOSED } from "../../src/proxy/remote/messages.js";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { NO_AUTH, type Remote } from "../../src/proxy/types.js";
import { createHost, type Host, initializeParams, until } from "./remote-harness.js";

/**
 * Resumption against a small raw server that implements just enough of the
 * session era to drop SSE connections mid-way and serve the rest on a GET
 * with Last-Event-ID (sometimes replaying an event the client already has).
 */
interface Seen {
  readonly method: string;
  readonly lastEventId: string | undefined;
}

const SSE = { "content-type": "text/event-stream", "cache-control": "no-cache" };
let server: Server;
let url: URL;
const seen: Seen[] = [];
const open: ServerResponse[] = [];

function event(id: string | undefined, message: unknown): string {
  return `${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(message)}\n\n`;
}
function progress(token: string, n: number): object {
  return { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: n } };
}
/** Writes `frames`, then cuts the connection once they are flushed (no proper end of the body). */
function writeThenCut(res: ServerResponse, frames: string): void {
  res.write(frames, () => res.socket?.destroy());
}
function body(req: IncomingMessage): Promise<{ id?: number; method?: string; params?: { name?: string } }> {
  return new Promise((resolve) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => resolve(JSON.parse(text)));
  });
}

async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const m = await body(req);
  if (m.method === "initialize") {
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" });
    res.end(
      JSON.stringify({
        jsonrpc: "2.0",
        id: m.id,
        result: { protocolVersion: "2025-11-25", capabilities: {} },
      }),
    );
    return;
  }
  if (m.id === undefined) {
    res.writeHead(202).end();
    return;
  }
  res.writeHead(200, SSE);
  switch (m.params?.name) {
    case "count": // primed, one event, then cut; the rest is served by GETs with Last-Event-ID
      return writeThenCut(res, `id: c_0\nretry: 10\ndata: \n\n${event("c_1", progress("count", 1))}`);
    case "vanish": // no event id at all: nothing to resume from
      return writeThenCut(res, event(undefined, progress("vanish", 1)));
    case "flaky": // resumable, but every GET fails
      return writeThenCut(res, "id: f_0\nretry: 5\ndata: \n\n");
  }
}

function get(req: IncomingMessage, res: ServerResponse): void {
  const last = req.headers["last-event-id"] as string | undefined;
  const note = (text: string) => ({
    jsonrpc: "2.0",
    method: "notifications/message",
    params: { level: "info", data: text },
  });
  switch (last) {
    case undefined: // the standalone stream: one event, then cut
      res.writeHead(200, SSE);
      writeThenCut(res, `retry: 10\n${event("g_1", note("one"))}`);
      return;
    case "g_1": // replays g_1 (already delivered), then stays open
      res.writeHead(200, SSE);
      res.write(event("g_1", note("one")) + event("g_2", note("two")));
      open.push(res);
      return;
    case "c_1": // replays c_1 (already delivered), one new event, then cut again
      res.writeHead(200, SSE);
      writeThenCut(res, event("c_1", progress("count", 1)) + event("c_2", progress("count", 2)));
      return;
    case "c_2":
      res.writeHead(200, SSE);
      res.end(
        event("c_3", progress("count", 3)) +
          event("c_4", { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "counted" }] } }),
      );
      return;
    default:
      res.writeHead(503).end();
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", lastEventId: req.headers["last-event-id"] as string | undefined });
    if (req.method === "POST") void post(req, res);
    else if (req.method === "GET") get(req, res);
    else res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});
afterAll(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("the session remote when streams drop", () => {
  let host: Host;
  let remote: Remote;
  beforeAll(async () => {
    host = createHost();
    remote = createSessionRemote({
      url,
      auth: NO_AUTH,
      onMessage: host.onMessage,
      reconnect: { maxAttempts: 2, initialDelayMs: 5 },
    });
    await host.request(remote, "initialize", initializeParams());
    await host.notify(remote, "notifications/initialized");
  });
  afterAll(() => remote?.close());

  it("resumes a POST's SSE stream with Last-Event-ID until its response, delivering each message once in order", async () => {
    const answer = await host.request(remote, "tools/call", {
      name: "count",
      _meta: { progressToken: "count" },
    });
    expect(answer).toMatchObject({ id: 2, result: { content: [{ text: "counted" }] } });
    const mine = host.messages.filter(
      (m) => m.id === 2 || (m.params as { progressToken?: string } | undefined)?.progressToken === "count",
    );
    expect(mine.map((m) => (m.id === 2 ? "result" : (m.params as { progress: number }).progress))).toEqual([
      1,
      2,
      3,
      "result",
    ]);
    expect(
      seen.filter((s) => s.method === "GET" && s.lastEventId?.startsWith("c_")).map((s) => s.lastEventId),
    ).toEqual(["c_1", "c_2"]);
  });

  it("resumes the GET stream after a drop without delivering a replayed event twice", async () => {
    await until(() => host.messages.filter((m) => m.method === "notifications/message").length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    const notes = host.messages.filter((m) => m.method === "notifications/message");
    expect(notes.map((m) => (m.params as { data: string }).data)).toEqual(["one", "two"]);
  });

  it("answers the host with an error when a dropped stream has no event id to resume from", async () => {
    const answer = await host.request(remote, "tools/call", {
      name: "vanish",
      _meta: { progressToken: "vanish" },
    });
    expect(answer).toMatchObject({ error: { code: CONNECTION_CLOSED } });
    expect(host.messages.filter((m) => m.id === answer.id)).toHaveLength(1);
  });

  it("gives up after the configured number of attempts and answers the host with an error", async () => {
    const answer = await host.request(remote, "tools/call", { name: "flaky" });
    expect(answer).toMatchObject({
      error: { code: CONNECTION_CLOSED, message: expect.stringMatching(/503/) },
    });
    expect(seen.filter((s) => s.lastEventId === "f_0")).toHaveLength(2);
  });
});
