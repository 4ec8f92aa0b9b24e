import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { NO_AUTH, RemoteError } from "../../src/proxy/types.js";
import { createHost, initializeMessage, initializeParams, spyFetch, until } from "./remote-harness.js";

/** Sessions that end under the remote, against the gateway in front of Smack. */
let smack: RunningSmack;
let http: HttpListener;
let url: URL;

beforeAll(async () => {
  smack = await startSmack({ port: 0 });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
    }),
  );
  http = await (await createGateway(config)).listen();
  url = new URL(`${http.url}/mcp`);
});
afterAll(async () => {
  await http?.close();
  await smack?.close();
});

/** Ends a session behind the remote's back, as a server restart would. */
async function endSession(sessionId: string): Promise<void> {
  const res = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sessionId } });
  expect(res.status).toBe(200);
}

describe("the session remote when the server forgets the session", () => {
  it("starts a new session once on a 404, replaying the host's initialize, and the request succeeds", async () => {
    const host = createHost();
    const spy = spyFetch();
    const remote = createSessionRemote({ url, auth: NO_AUTH, onMessage: host.onMessage, fetch: spy.fetch });
    try {
      await host.request(remote, "initialize", initializeParams());
      await host.notify(remote, "notifications/initialized");
      const first = spy.seen[1]?.headers["mcp-session-id"];
      expect(first).toBeTruthy();
      await endSession(String(first));

      const list = await host.request(remote, "tools/list");
      expect((list.result as { tools: unknown[] }).tools).toHaveLength(4);

      const posts = spy.seen.filter((r) => r.method === "POST");
      const bodies = posts.map((r) => JSON.parse(String(r.body)) as { method?: string });
      expect(bodies.map((b) => b.method)).toEqual([
        "initialize",
        "notifications/initialized",
        "tools/list", // 404
        "initialize",
        "notifications/initialized",
        "tools/list",
      ]);
      expect(posts[2]?.status).toBe(404);
      expect(posts[3]?.body).toBe(posts[0]?.body);
      const second = posts[4]?.headers["mcp-session-id"];
      expect(second).toBeTruthy();
      expect(second).not.toBe(first);
      expect(posts[5]?.headers["mcp-session-id"]).toBe(second);
      // The host saw one answer to its initialize, not the replay's.
      expect(host.messages.filter((m) => m.id === 1)).toHaveLength(1);
      // The GET stream of the new session is open.
      await until(() => spy.seen.some((r) => r.method === "GET" && r.headers["mcp-session-id"] === second));
    } finally {
      await remote.close();
    }
  });

  it("passes the server's refusal on when there is no session and no initialize to start one", async () => {
    const host = createHost();
    const remote = createSessionRemote({ url, auth: NO_AUTH, onMessage: host.onMessage });
    try {
      await expect(host.request(remote, "tools/list")).rejects.toSatisfy(
        (e) => e instanceof RemoteError && e.status === 400,
      );
    } finally {
      await remote.close();
    }
  });

  it("starts a session itself with the initialize producer when the host sends none", async () => {
    const host = createHost();
    const spy = spyFetch();
    const remote = createSessionRemote({
      url,
      auth: NO_AUTH,
      onMessage: host.onMessage,
      fetch: spy.fetch,
      initialize: () => initializeMessage(1_000),
    });
    try {
      const list = await host.request(remote, "tools/list");
      expect((list.result as { tools: unknown[] }).tools).toHaveLength(4);
      expect(host.messages).toEqual([list]);
      const methods = spy.seen
        .filter((r) => r.method === "POST")
        .map((r) => (JSON.parse(String(r.body)) as { method: string }).method);
      expect(methods).toEqual(["initialize", "notifications/initialized", "tools/list"]);
    } finally {
      await remote.close();
    }
  });
});
