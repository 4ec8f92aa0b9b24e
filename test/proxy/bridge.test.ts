import { describe, expect, it } from "vitest";
import { createBridge, type LoginState } from "../../src/proxy/bridge.js";
import { type JsonRpcMessage, LoginRequiredError, type Remote } from "../../src/proxy/types.js";

const INIT: JsonRpcMessage = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "host", version: "1" } },
};
const INITIALIZED: JsonRpcMessage = { jsonrpc: "2.0", method: "notifications/initialized" };

/** A remote that records what it is sent and answers requests with `{ echo: method }`. */
function fakeRemote(onMessage: (m: JsonRpcMessage) => void, sent: JsonRpcMessage[]): Remote {
  return {
    era: "session",
    async send(m) {
      sent.push(m);
      if (typeof m.method === "string" && m.id !== undefined) {
        queueMicrotask(() => onMessage({ jsonrpc: "2.0", id: m.id, result: { echo: m.method } }));
      }
    },
    async close() {},
  };
}

function harness(options: { loginFirst?: boolean; failConnect?: Error } = {}) {
  const toHost: JsonRpcMessage[] = [];
  const sent: JsonRpcMessage[] = [];
  let connects = 0;
  let login!: () => void;
  const loggedIn = new Promise<void>((r) => {
    login = r;
  });
  const state: LoginState = {
    loggedIn: () => loggedIn,
    loginUrl: async () => new URL("http://idp.test/authorize?x=1"),
  };
  let needLogin = options.loginFirst === true;
  void loggedIn.then(() => {
    needLogin = false;
  });
  const bridge = createBridge({
    url: new URL("http://mcp.test/mcp"),
    info: { name: "proxy", version: "0" },
    write: (m) => toHost.push(m),
    log: () => {},
    login: state,
    async connect(init, onMessage) {
      connects++;
      if (options.failConnect) throw options.failConnect;
      if (needLogin) throw new LoginRequiredError(401);
      const remote = fakeRemote(onMessage, sent);
      await remote.send(init);
      return remote;
    },
  });
  return { bridge, toHost, sent, connects: () => connects, login };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("the proxy bridge", () => {
  it("passes messages both ways unchanged and in order", async () => {
    const h = harness();
    h.bridge.handle(INIT);
    h.bridge.handle(INITIALIZED);
    h.bridge.handle({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    h.bridge.handle({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "x" } });
    await settle();
    expect(h.sent.map((m) => m.method)).toEqual([
      "initialize",
      "notifications/initialized",
      "tools/list",
      "tools/call",
    ]);
    expect(h.toHost).toEqual([
      { jsonrpc: "2.0", id: 0, result: { echo: "initialize" } },
      { jsonrpc: "2.0", id: 1, result: { echo: "tools/list" } },
      { jsonrpc: "2.0", id: 2, result: { echo: "tools/call" } },
    ]);
  });

  it("answers at once while logged out, then opens the real session and announces the new lists", async () => {
    const h = harness({ loginFirst: true });
    h.bridge.handle(INIT);
    h.bridge.handle(INITIALIZED);
    h.bridge.handle({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    h.bridge.handle({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "login" } });
    await settle();
    const [init, list, call] = h.toHost as unknown as { id: number; result: { [k: string]: unknown } }[];
    expect(init?.result.protocolVersion).toBe("2025-06-18");
    expect(init?.result.capabilities).toMatchObject({ tools: { listChanged: true } });
    expect(((list?.result.tools ?? []) as { name: string }[]).map((t) => t.name)).toEqual(["login"]);
    expect(call?.result.isError).toBe(true);
    expect(JSON.stringify(call?.result.content)).toContain("http://idp.test/authorize?x=1");
    expect(h.sent).toEqual([]);

    h.login();
    await settle();
    expect(h.connects()).toBe(2);
    // The replayed initialize's answer is the proxy's own: the host got one initialize result only.
    expect(h.toHost.filter((m) => m.id === 0)).toHaveLength(1);
    expect(h.sent.map((m) => m.method)).toEqual(["initialize", "notifications/initialized"]);
    expect(h.toHost.slice(3).map((m) => m.method)).toEqual([
      "notifications/tools/list_changed",
      "notifications/resources/list_changed",
      "notifications/prompts/list_changed",
    ]);
    h.bridge.handle({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    await settle();
    expect(h.toHost.at(-1)).toEqual({ jsonrpc: "2.0", id: 3, result: { echo: "tools/list" } });
  });

  it("answers initialize with an error naming the server when it cannot be reached", async () => {
    const h = harness({ failConnect: new Error("connect ECONNREFUSED") });
    h.bridge.handle(INIT);
    await settle();
    expect(h.toHost).toEqual([
      {
        jsonrpc: "2.0",
        id: 0,
        error: { code: -32603, message: "cannot reach http://mcp.test/mcp: connect ECONNREFUSED" },
      },
    ]);
  });

  it("refuses requests before initialize", async () => {
    const h = harness();
    h.bridge.handle({ jsonrpc: "2.0", id: 9, method: "tools/list" });
    await settle();
    expect(h.toHost).toEqual([
      {
        jsonrpc: "2.0",
        id: 9,
        error: {
          code: -32600,
          message: "the first request must be initialize, or carry the 2026-07-28 _meta",
        },
      },
    ]);
  });

  it("answers a logged-out 2026-07-28 host with complete results it must not cache or share", async () => {
    const h = harness({ loginFirst: true });
    const meta = { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } };
    h.bridge.handle({ jsonrpc: "2.0", id: 1, method: "server/discover", params: meta });
    h.bridge.handle({ jsonrpc: "2.0", id: 2, method: "tools/list", params: meta });
    h.bridge.handle({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { ...meta, name: "login" } });
    await settle();
    const answer = (id: number) =>
      (h.toHost.find((m) => m.id === id)?.result ?? {}) as { [k: string]: unknown };
    // MCP 2026-07-28 server/utilities/caching: cacheable results carry both hints.
    for (const id of [1, 2]) {
      expect(answer(id)).toMatchObject({ resultType: "complete", ttlMs: 0, cacheScope: "private" });
    }
    expect(answer(1).supportedVersions).toEqual(["2026-07-28"]);
    expect(answer(3)).toMatchObject({ resultType: "complete", isError: true });
    expect(answer(3)).not.toHaveProperty("ttlMs");
  });
});
