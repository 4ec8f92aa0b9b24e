import { describe, expect, it } from "vitest";
import { createBridge } from "../../src/proxy/bridge.js";
import { type JsonRpcMessage, LoginRequiredError, type Remote } from "../../src/proxy/types.js";

/**
 * The bridge when a login has to happen again: a token that lapsed in the
 * middle of a session (refresh token revoked), and a login that failed
 * (the user never came back). Found by the browser journey
 * (`proxy-browser.test.ts`); here with fakes for both sides.
 */

const INIT: JsonRpcMessage = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "host", version: "1" } },
};
const LINK = "http://idp.test/authorize?x=1";

/** A promise settled from outside: one login as the OAuth client sees it. */
function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A bridge whose server wants a login while `server.loggedIn` is false (and
 * cannot be reached while `server.down`), and
 * whose logins the test completes or fails (`login`, a new one each time a
 * login is needed again).
 */
function harness(options: { loggedInAtFirst: boolean }) {
  const toHost: JsonRpcMessage[] = [];
  const sent: JsonRpcMessage[] = [];
  const server = { loggedIn: options.loggedInAtFirst, down: false, connects: 0 };
  let login = deferred();
  const remote = (onMessage: (m: JsonRpcMessage) => void): Remote => ({
    era: "session",
    async send(m) {
      if (!server.loggedIn) throw new LoginRequiredError(401);
      sent.push(m);
      if (typeof m.method === "string" && m.id !== undefined) {
        queueMicrotask(() => onMessage({ jsonrpc: "2.0", id: m.id, result: { echo: m.method } }));
      }
    },
    async close() {},
  });
  const bridge = createBridge({
    url: new URL("http://mcp.test/mcp"),
    info: { name: "proxy", version: "0" },
    write: (m) => toHost.push(m),
    log: () => {},
    login: { loggedIn: () => login.promise, loginUrl: async () => new URL(LINK) },
    async connect(init, onMessage) {
      server.connects++;
      if (server.down) {
        await new Promise((r) => setTimeout(r, 5));
        throw new Error("connect ECONNREFUSED");
      }
      const r = remote(onMessage);
      await r.send(init);
      return r;
    },
  });
  return {
    bridge,
    toHost,
    sent,
    server,
    /** The user completes the login under way. */
    logIn() {
      server.loggedIn = true;
      login.resolve();
    },
    /** The login under way fails (timed out, say); the next one is a new login. */
    failLogin() {
      const failed = login;
      login = deferred();
      failed.reject(new Error("nobody completed the login within 300 s"));
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 10));
const call = (id: number, name = "read_channel"): JsonRpcMessage => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name },
});
const answerTo = (toHost: JsonRpcMessage[], id: number) => JSON.stringify(toHost.find((m) => m.id === id));
const notifications = (toHost: JsonRpcMessage[]) =>
  toHost.filter((m) => m.id === undefined).map((m) => m.method);

describe("the proxy bridge when a login has to happen again", () => {
  it("tells the host its tools changed once a lapsed session's new login completes", async () => {
    const h = harness({ loggedInAtFirst: true });
    h.bridge.handle(INIT);
    await settle();
    h.server.loggedIn = false; // the refresh token was revoked
    h.bridge.handle(call(1));
    h.bridge.handle({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    await settle();
    expect(answerTo(h.toHost, 1)).toContain(LINK);
    expect(answerTo(h.toHost, 2)).toContain('"name":"login"');
    expect(notifications(h.toHost)).toEqual([]);

    h.logIn();
    await settle();
    // The host holds the one-tool list it was given: only this notification makes it ask again.
    expect(notifications(h.toHost)).toEqual(["notifications/tools/list_changed"]);
    h.bridge.handle({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    await settle();
    expect(h.toHost.at(-1)).toEqual({ jsonrpc: "2.0", id: 3, result: { echo: "tools/list" } });
    expect(h.server.connects).toBe(1);
  });

  it("announces nothing after a lapse when the host listed nothing meanwhile", async () => {
    const h = harness({ loggedInAtFirst: true });
    h.bridge.handle(INIT);
    await settle();
    h.server.loggedIn = false;
    h.bridge.handle(call(1));
    await settle();
    h.logIn();
    await settle();
    expect(notifications(h.toHost)).toEqual([]);
    h.bridge.handle(call(2));
    await settle();
    expect(h.toHost.at(-1)).toEqual({ jsonrpc: "2.0", id: 2, result: { echo: "tools/call" } });
  });

  it("goes back to the server after a lapsed session's login fails, so a new login can start", async () => {
    const h = harness({ loggedInAtFirst: true });
    h.bridge.handle(INIT);
    await settle();
    h.server.loggedIn = false;
    h.bridge.handle(call(1));
    await settle();
    h.failLogin();
    await settle();

    // The next call meets the server's challenge again (a new login would start there) ...
    h.bridge.handle(call(2));
    await settle();
    expect(answerTo(h.toHost, 2)).toContain(LINK);
    // ... and the session carries on once that login completes.
    h.logIn();
    await settle();
    h.bridge.handle(call(3));
    await settle();
    expect(h.toHost.at(-1)).toEqual({ jsonrpc: "2.0", id: 3, result: { echo: "tools/call" } });
  });

  it("meets the server's challenge again after the first login fails, instead of waiting forever", async () => {
    const h = harness({ loggedInAtFirst: false });
    h.bridge.handle(INIT);
    await settle();
    expect(h.server.connects).toBe(1);
    h.failLogin();
    await settle();

    h.bridge.handle(call(1));
    await settle();
    // A new attempt at the server, whose challenge starts a new login; the call gets its link.
    expect(h.server.connects).toBe(2);
    expect(answerTo(h.toHost, 1)).toContain(LINK);

    h.logIn();
    await settle();
    expect(h.server.connects).toBe(3);
    expect(notifications(h.toHost)).toContain("notifications/tools/list_changed");
    h.bridge.handle(call(2));
    await settle();
    expect(h.toHost.at(-1)).toEqual({ jsonrpc: "2.0", id: 2, result: { echo: "tools/call" } });
  });

  it("answers a request that waited for the session to reopen when the server cannot be reached", async () => {
    const h = harness({ loggedInAtFirst: false });
    h.bridge.handle(INIT);
    await settle();
    h.server.down = true;
    h.logIn();
    await new Promise((r) => setTimeout(r, 1)); // the reopen is under way
    h.bridge.handle(call(1));
    await settle();
    expect(h.toHost.find((m) => m.id === 1)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32603, message: "cannot reach http://mcp.test/mcp: connect ECONNREFUSED" },
    });
  });
});
