import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteRpcError } from "../../src/proxy/remote/http.js";
import { createLegacySseRemote } from "../../src/proxy/remote/legacy-sse.js";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { createStatelessRemote } from "../../src/proxy/remote/stateless-http.js";
import { type AuthSource, LoginRequiredError, RemoteError } from "../../src/proxy/types.js";
import { createHost, initializeParams } from "./remote-harness.js";

/**
 * The auth hooks of every remote against a raw server that wants
 * `Bearer good` (`Bearer wide` for /scoped tools), answering 401 or 403
 * `insufficient_scope` challenges otherwise.
 */
const METADATA = 'Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"';
const SCOPE = 'Bearer error="insufficient_scope", scope="smack.write"';
let server: Server;
let base: string;
/** Authorization header of every request, by path. */
const seen: { path: string; method: string; authorization: string | undefined }[] = [];
let legacyStream: ServerResponse | undefined;

function json(res: ServerResponse, status: number, body: unknown, headers: object = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}
async function read(req: IncomingMessage): Promise<{ id?: number; method?: string }> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  const authorization = req.headers.authorization;
  seen.push({ path, method: req.method ?? "", authorization });
  if (path === "/forbidden") {
    req.resume();
    return json(res, 403, {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: "Forbidden: origin" },
    });
  }
  if (authorization !== "Bearer good" && authorization !== "Bearer wide") {
    req.resume();
    return json(res, 401, { error: "invalid_token" }, { "www-authenticate": METADATA });
  }
  if (path === "/sse") {
    legacyStream = res;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("event: endpoint\ndata: /messages?sessionId=1\n\n");
    return;
  }
  if (req.method === "DELETE" || req.method === "GET") {
    req.resume();
    return void res.writeHead(req.method === "DELETE" ? 200 : 405).end();
  }
  const m = await read(req);
  if (path === "/messages") {
    res.writeHead(202).end();
    legacyStream?.write(
      `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: m.id, result: {} })}\n\n`,
    );
    return;
  }
  if (path === "/scoped" && authorization !== "Bearer wide") {
    return json(res, 403, { error: "insufficient_scope" }, { "www-authenticate": SCOPE });
  }
  if (m.id === undefined) return void res.writeHead(202).end();
  const result = m.method === "initialize" ? { protocolVersion: "2025-11-25", capabilities: {} } : {};
  json(res, 200, { jsonrpc: "2.0", id: m.id, result }, { "mcp-session-id": "s1" });
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  legacyStream?.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** An auth source holding `token`, answering every challenge with `verdict` and switching to `next`. */
function authSource(token: string | undefined, verdict: "retry" | "login", next?: string) {
  const challenges: { status: number; wwwAuthenticate: string | null }[] = [];
  let current = token;
  const auth: AuthSource = {
    authorization: async () => current,
    async challenged(status, wwwAuthenticate) {
      challenges.push({ status, wwwAuthenticate });
      if (next !== undefined) current = next;
      return verdict;
    },
  };
  return { auth, challenges };
}

function since(mark: number) {
  return seen.slice(mark);
}

describe("the remotes' auth hooks", () => {
  it("reports a 401 to challenged and, on retry, sends the request again with the new header", async () => {
    const { auth, challenges } = authSource("Bearer stale", "retry", "Bearer good");
    const host = createHost();
    const logs: string[] = [];
    const remote = createSessionRemote({
      url: new URL(`${base}/mcp`),
      auth,
      onMessage: host.onMessage,
      log: (m) => logs.push(m),
    });
    const mark = seen.length;
    const answer = await host.request(remote, "initialize", initializeParams());
    expect(answer).toMatchObject({ result: { protocolVersion: "2025-11-25" } });
    expect(challenges).toEqual([{ status: 401, wwwAuthenticate: METADATA }]);
    expect(since(mark).map((s) => s.authorization)).toEqual(["Bearer stale", "Bearer good"]);
    await remote.close();
    expect(logs.join("\n")).not.toMatch(/Bearer|stale|good/);
  });

  it("rejects with LoginRequiredError when challenged says a login is needed", async () => {
    const { auth, challenges } = authSource(undefined, "login");
    const host = createHost();
    const remote = createSessionRemote({ url: new URL(`${base}/mcp`), auth, onMessage: host.onMessage });
    const mark = seen.length;
    const sent = host.request(remote, "initialize", initializeParams());
    await expect(sent).rejects.toBeInstanceOf(LoginRequiredError);
    await expect(sent).rejects.toMatchObject({ status: 401 });
    expect(challenges).toHaveLength(1);
    expect(since(mark)).toEqual([{ path: "/mcp", method: "POST", authorization: undefined }]);
    await remote.close();
  });

  it("challenges on a 401 to the GET of an SSE stream too", async () => {
    const { auth, challenges } = authSource("Bearer stale", "retry", "Bearer good");
    const host = createHost();
    const remote = createLegacySseRemote({ url: new URL(`${base}/sse`), auth, onMessage: host.onMessage });
    const mark = seen.length;
    expect(await host.request(remote, "tools/list")).toMatchObject({ result: {} });
    expect(challenges.map((c) => c.status)).toEqual([401]);
    expect(since(mark).map((s) => `${s.method} ${s.path} ${s.authorization}`)).toEqual([
      "GET /sse Bearer stale",
      "GET /sse Bearer good",
      "POST /messages Bearer good",
    ]);
    await remote.close();
  });

  it("treats a 403 insufficient_scope as a challenge and retries with the stepped-up token", async () => {
    const { auth, challenges } = authSource("Bearer good", "retry", "Bearer wide");
    const host = createHost();
    const remote = createStatelessRemote({
      url: new URL(`${base}/scoped`),
      auth,
      onMessage: host.onMessage,
      protocolVersion: "2026-07-28",
      clientCapabilities: {},
    });
    expect(await host.request(remote, "tools/call", { name: "write", arguments: {} })).toMatchObject({
      result: {},
    });
    expect(challenges).toEqual([{ status: 403, wwwAuthenticate: SCOPE }]);
    await remote.close();
  });

  it("fails other 403s with a RemoteError carrying the status and the server's message, without a challenge", async () => {
    const { auth, challenges } = authSource("Bearer good", "retry");
    const host = createHost();
    const remote = createStatelessRemote({
      url: new URL(`${base}/forbidden`),
      auth,
      onMessage: host.onMessage,
      protocolVersion: "2026-07-28",
      clientCapabilities: {},
    });
    const sent = host.request(remote, "tools/list");
    await expect(sent).rejects.toBeInstanceOf(RemoteRpcError);
    await expect(sent).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/Forbidden: origin/),
    });
    expect(challenges).toEqual([]);
    await remote.close();
  });

  it("gives up with a RemoteError when the server refuses the new credentials too", async () => {
    const { auth, challenges } = authSource("Bearer stale", "retry", "Bearer still-stale");
    const host = createHost();
    const remote = createSessionRemote({ url: new URL(`${base}/mcp`), auth, onMessage: host.onMessage });
    const mark = seen.length;
    const sent = host.request(remote, "initialize", initializeParams());
    await expect(sent).rejects.toSatisfy((e) => e instanceof RemoteError && e.status === 401);
    expect(since(mark)).toHaveLength(2);
    expect(challenges).toHaveLength(2);
    await remote.close();
  });
});
