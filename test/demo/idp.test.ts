import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoIdp, startDemoIdp } from "../../src/demo/idp.js";
import { DEMO_USERS } from "../../src/demo/users.js";
import { isCallback, type Page, register, startLogin, type TestClient, tokenRequest } from "./idp-client.js";

const RESOURCE = "http://127.0.0.1:8080/mcp";
const BOTH = "smack.read smack.write offline_access";

/** Logs in as `login` asking for `scope`, allows the consent, and redeems the code. */
async function logIn(idp: DemoIdp, client: TestClient, login: string, scope = BOTH) {
  const user = DEMO_USERS.find((u) => u.login === login);
  const flow = startLogin(idp.issuer, client, { scope, resource: RESOURCE });
  const form = (await flow.open()) as Page;
  expect(form.html).toContain("<h1>Sign in</h1>");
  const consent = await flow.logIn(form, login, user?.password ?? "");
  if (isCallback(consent)) throw new Error(`no consent page: ${consent.callback.href}`);
  expect(consent.html).toContain("<h1>Authorize</h1>");
  const done = await flow.answer(consent, "confirm");
  if (!isCallback(done)) throw new Error(`no callback after the consent: ${done.html.slice(0, 300)}`);
  return { consent, tokens: await flow.tokens(done.callback) };
}

describe("the demo identity provider", () => {
  let idp: DemoIdp;
  let client: TestClient;
  beforeAll(async () => {
    idp = await startDemoIdp({ port: 0, resource: RESOURCE });
    client = await register(idp.issuer, "MCPEngine proxy");
  });
  afterAll(() => idp?.close());

  it("advertises dynamic registration, PKCE, refresh tokens and Client ID Metadata Documents", async () => {
    const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.registration_endpoint).toBe(`${idp.issuer}/reg`);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(["authorization_code", "refresh_token"]),
    );
    expect(meta.scopes_supported).toContain("offline_access");
    expect(meta.client_id_metadata_document_supported).toBe(true);
  });

  it("gives alice a JWT access token for the gateway with both Smack scopes, and a refresh token", async () => {
    const { consent, tokens } = await logIn(idp, client, "alice");
    expect(consent.html).toContain("MCPEngine proxy");
    expect(consent.html).not.toContain('class="refused"');
    expect(tokens.scope?.split(" ").sort()).toEqual(["smack.read", "smack.write"]);
    const token = tokens.access_token ?? "";
    expect(decodeProtectedHeader(token).typ).toBe("at+jwt");
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), {
      issuer: idp.issuer,
      audience: RESOURCE,
    });
    expect(payload.sub).toBe("alice");
    expect(payload.client_id).toBe(client.clientId);

    const refreshed = await tokenRequest(idp.issuer, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: client.clientId,
      resource: RESOURCE,
    });
    expect(refreshed.error).toBeUndefined();
    expect(refreshed.scope?.split(" ").sort()).toEqual(["smack.read", "smack.write"]);
  });

  it("never gives bob smack.write, even when he asks for it: the consent shows it refused", async () => {
    const { consent, tokens } = await logIn(idp, client, "bob");
    expect(consent.html).toMatch(/class="refused".*smack\.write/s);
    expect(tokens.scope).toBe("smack.read");
    // Asking again, as a step-up does, gives him no more.
    const again = await logIn(idp, client, "bob");
    expect(again.tokens.scope ?? "").not.toContain("smack.write");
    const refreshed = await tokenRequest(idp.issuer, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: client.clientId,
      scope: "smack.read smack.write",
    });
    expect(refreshed.access_token).toBeUndefined();
    expect(refreshed.error).toBe("invalid_scope");
  });

  it("answers a wrong password with the login page and a message, and no redirect", async () => {
    const flow = startLogin(idp.issuer, client, { scope: BOTH, resource: RESOURCE });
    const form = (await flow.open()) as Page;
    const again = await flow.logIn(form, "alice", "not her password");
    if (isCallback(again)) throw new Error("a wrong password was let through");
    expect(again.status).toBe(200);
    expect(again.html).toContain("Wrong user name or password.");
    expect(again.html).toContain('value="alice"');
    // The same login goes on with the right password.
    const consent = await flow.logIn(again as Page, "alice", "wonderland");
    expect(isCallback(consent) ? "" : consent.html).toContain("<h1>Authorize</h1>");
  });

  it("sends access_denied to the client when the user denies the consent", async () => {
    const flow = startLogin(idp.issuer, client, { scope: BOTH, resource: RESOURCE });
    const consent = (await flow.logIn((await flow.open()) as Page, "alice", "wonderland")) as Page;
    const done = await flow.answer(consent, "abort");
    expect(isCallback(done) && done.callback.searchParams.get("error")).toBe("access_denied");
  });

  it("refuses tokens for any resource but the gateway", async () => {
    const flow = startLogin(idp.issuer, client, { scope: BOTH, resource: "http://127.0.0.1:9999/mcp" });
    const answer = await flow.open();
    expect(isCallback(answer) && answer.callback.searchParams.get("error")).toBe("invalid_target");
  });

  it("escapes what a client registered when it shows it", async () => {
    const sly = await register(idp.issuer, '<img src=x onerror="alert(1)">');
    const flow = startLogin(idp.issuer, sly, { scope: BOTH, resource: RESOURCE });
    const page = (await flow.open()) as Page;
    expect(page.html).not.toContain("<img");
    expect(page.html).toContain("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;");
  });
});

describe("the demo identity provider's client registrations", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-demo-idp-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("outlive a restart, so a host's proxy keeps its client", async () => {
    const clientsFile = join(dir, "clients.json");
    const first = await startDemoIdp({ port: 0, resource: RESOURCE, clientsFile });
    const client = await register(first.issuer);
    await first.close();
    const second = await startDemoIdp({ port: 0, resource: RESOURCE, clientsFile });
    try {
      const page = (await startLogin(second.issuer, client, {
        scope: BOTH,
        resource: RESOURCE,
      }).open()) as Page;
      expect(page.html).toContain("<h1>Sign in</h1>");
    } finally {
      await second.close();
    }
  });
});
