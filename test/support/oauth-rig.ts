/**
 * What the proxy's OAuth tests run against: a real IdP (`oidc-provider` with
 * user logins), Smack behind two gateways with auth on — one whose challenge
 * asks for read and write, one that asks for read only, so writing needs a
 * step-up — and helpers to drive an OAuth client through them.
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import {
  createOAuthClient,
  type OAuthClient,
  type OAuthClientOptions,
} from "../../src/proxy/oauth/client.js";
import { createStore } from "../../src/proxy/oauth/store.js";
import type { AuthSource } from "../../src/proxy/types.js";
import { completeLogin } from "./browser-login.js";
import { startIdp } from "./idp.js";
import { statelessRequest } from "./stateless.js";

/** A gateway's MCP endpoint. */
export interface Gateway {
  readonly url: URL;
  close(): Promise<void>;
}

/** Starts the IdP, Smack and the two gateways. */
export async function startOAuthRig() {
  const idp = await startIdp({ interactive: true });
  const smack = await startSmack({ port: 0 });

  /** A gateway with auth on, listening where its public URL says, so clients can follow its metadata. */
  async function startGateway(scopesSupported: string[]): Promise<Gateway> {
    const port = await freePort();
    const own = `http://127.0.0.1:${port}`;
    const config = parseConfig(
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        publicUrl: own,
        auth: { issuer: idp.issuer, audience: `${own}/mcp`, scopesSupported },
        backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}` }],
      }),
    );
    const http = await (await createGateway(config)).listen();
    return { url: new URL(`${own}/mcp`), close: () => http.close() };
  }

  const full = await startGateway(["smack.read", "smack.write"]);
  const readOnly = await startGateway(["smack.read"]);

  /** A client of `full` (unless told otherwise), its login links and log lines recorded. */
  function client(over: Partial<OAuthClientOptions> = {}) {
    const links: URL[] = [];
    const logs: string[] = [];
    const home = over.home ?? newHome();
    const oauth = createOAuthClient({
      serverUrl: full.url,
      home,
      onLoginUrl: (url) => links.push(url),
      log: (m) => logs.push(m),
      ...over,
    });
    return { oauth, links, logs, home };
  }

  /** Meets the server's 401 and completes the login that follows like a user's browser. */
  async function logIn(oauth: OAuthClient, server = full.url) {
    const refused = await callTool(server, oauth, "list_channels");
    expect(refused.status).toBe(401);
    expect(await oauth.challenged(401, refused.headers.get("www-authenticate"))).toBe("login");
    await until(() => oauth.loginUrl() !== undefined, "the login link");
    const browser = await completeLogin(oauth.loginUrl() as URL);
    await oauth.loggedIn();
    return browser;
  }

  return {
    idp,
    full,
    readOnly,
    client,
    logIn,
    /** How many requests the IdP served on this route (and grant type). */
    count: (route: string, grant?: string) =>
      idp.requests.filter((r) => r.route === route && (!grant || r.params.grant_type === grant)).length,
    requestsSince: (n: number) => idp.requests.slice(n),
    async close() {
      await Promise.all([full.close(), readOnly.close()]);
      await Promise.all([smack.close(), idp.close()]);
      await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })));
    },
  };
}

export type OAuthRig = Awaited<ReturnType<typeof startOAuthRig>>;

const homes: string[] = [];

/** A fresh token store root, removed when the rig closes. */
export function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), "mcpengine-login-"));
  homes.push(home);
  return home;
}

/** Calls a tool on the gateway with whatever header the auth source gives. */
export async function callTool(
  server: URL,
  auth: AuthSource,
  name: string,
  args: Record<string, unknown> = {},
) {
  const request = statelessRequest(1, "tools/call", { name, arguments: args });
  const authorization = await auth.authorization();
  return fetch(server, {
    method: "POST",
    headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
    body: request.body,
  });
}

/** Waits until `condition` holds. */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Makes the stored access token expire `inSeconds` from now (default 30: within the refresh margin). */
export async function expireSoon(home: string, server: URL, inSeconds = 30): Promise<void> {
  const store = createStore(home, server);
  const record = await store.read();
  if (!record?.tokens) throw new Error("no tokens stored");
  await store.write({
    ...record,
    tokens: { ...record.tokens, expires_at: Math.floor(Date.now() / 1000) + inSeconds },
  });
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
