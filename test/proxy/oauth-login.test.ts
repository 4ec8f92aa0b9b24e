import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OAuthClient } from "../../src/proxy/oauth/client.js";
import { createStore } from "../../src/proxy/oauth/store.js";
import { completeLogin } from "../support/browser-login.js";
import { LOGIN_CLIENT_CONFIDENTIAL } from "../support/idp.js";
import { callTool, expireSoon, newHome, type OAuthRig, startOAuthRig, until } from "../support/oauth-rig.js";

let rig: OAuthRig;
beforeAll(async () => {
  rig = await startOAuthRig();
});
afterAll(async () => {
  await rig?.close();
});

describe("the proxy's OAuth client against the gateway and a real IdP", () => {
  it("logs in on the first 401: discovers, registers as a native app, PKCE S256 and resource in both requests", async () => {
    const { oauth, links } = rig.client();
    const before = rig.idp.requests.length;
    const browser = await rig.logIn(oauth);
    expect(browser.status).toBe(200);
    expect(browser.body).toContain("You can close this tab");
    expect(links).toHaveLength(1);
    expect(oauth.loginUrl()).toBeUndefined();

    const seen = rig.requestsSince(before);
    const registration = seen.filter((r) => r.route === "registration");
    expect(registration).toHaveLength(1);
    expect(registration[0]?.params).toMatchObject({
      application_type: "native",
      token_endpoint_auth_method: "none",
      grant_types: "authorization_code refresh_token urn:ietf:params:oauth:grant-type:device_code",
    });
    expect(registration[0]?.params.redirect_uris).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const authorization = seen.find((r) => r.route === "authorization")?.params;
    expect(authorization).toMatchObject({
      code_challenge_method: "S256",
      resource: rig.full.url.href,
      scope: "smack.read smack.write offline_access",
      redirect_uri: registration[0]?.params.redirect_uris,
    });
    const token = seen.find((r) => r.route === "token")?.params;
    expect(token).toMatchObject({ grant_type: "authorization_code", resource: rig.full.url.href });
    expect(token?.code_verifier).toMatch(/^[\w-]{43,128}$/);

    const res = await callTool(rig.full.url, oauth, "list_channels");
    expect(res.status).toBe(200);
  });

  it("reports the login in status, and forgets tokens and registration on logout", async () => {
    const { oauth, home } = rig.client();
    expect(await oauth.status()).toEqual({ loggedIn: false });
    await rig.logIn(oauth);
    const status = await oauth.status();
    expect(status).toMatchObject({
      loggedIn: true,
      issuer: rig.idp.issuer,
      scopes: ["smack.read", "smack.write"],
    });
    expect(status.expiresAt).toBeGreaterThan(Date.now() / 1000 + 500);
    const stored = JSON.parse(readFileSync(createStore(home, rig.full.url).file, "utf8"));
    expect(stored.tokens.expires_at).toBe(status.expiresAt);

    await oauth.logout();
    expect(await oauth.status()).toEqual({ loggedIn: false });
    expect(await oauth.authorization()).toBeUndefined();
    const registrations = rig.count("registration");
    await rig.logIn(oauth);
    expect(rig.count("registration")).toBe(registrations + 1);
  });

  it("reuses its registration, on the same loopback port, for the next login", async () => {
    const { oauth, home } = rig.client();
    await rig.logIn(oauth);
    const store = createStore(home, rig.full.url);
    const record = await store.read();
    if (!record) throw new Error("nothing stored");
    const { tokens: _, ...withoutTokens } = record;
    await store.write(withoutTokens);
    const registrations = rig.count("registration");
    await rig.logIn(oauth);
    expect(rig.count("registration")).toBe(registrations);
    expect((await store.read())?.client).toEqual(record.client);
  });

  it("leaves out resource in both requests when told to", async () => {
    const { oauth } = rig.client({ resource: false });
    const before = rig.idp.requests.length;
    await rig.logIn(oauth);
    const seen = rig.requestsSince(before).filter((r) => r.route === "authorization" || r.route === "token");
    expect(seen.map((r) => r.route)).toEqual(["authorization", "token"]);
    for (const r of seen) expect(r.params.resource).toBeUndefined();
  });

  it("uses a pre-registered confidential client without registering, and keeps its secret off disk", async () => {
    const { oauth, home } = rig.client({
      clientId: LOGIN_CLIENT_CONFIDENTIAL.id,
      clientSecret: LOGIN_CLIENT_CONFIDENTIAL.secret,
      tokenEndpointAuth: "client_secret_post",
    });
    const registrations = rig.count("registration");
    await rig.logIn(oauth);
    expect(rig.count("registration")).toBe(registrations);
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
    const file = readFileSync(createStore(home, rig.full.url).file, "utf8");
    expect(file).toContain(LOGIN_CLIENT_CONFIDENTIAL.id);
    expect(file).not.toContain(LOGIN_CLIENT_CONFIDENTIAL.secret);
    // The refresh takes the secret from the settings again.
    await expireSoon(home, rig.full.url);
    expect(await oauth.authorization()).toMatch(/^Bearer /);
  });

  it("refuses a forged callback, then accepts the real one", async () => {
    const { oauth } = rig.client();
    const refused = await callTool(rig.full.url, oauth, "list_channels");
    await oauth.challenged(401, refused.headers.get("www-authenticate"));
    await until(() => oauth.loginUrl() !== undefined, "the login link");
    const link = oauth.loginUrl() as URL;
    const forged = new URL(link.searchParams.get("redirect_uri") ?? "");
    forged.search = new URLSearchParams({ code: "stolen", state: "guessed", iss: rig.idp.issuer }).toString();
    const answer = await fetch(forged);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain("does not belong to the login");
    const codeGrants = rig.count("token", "authorization_code");
    await completeLogin(link);
    await oauth.loggedIn();
    expect(rig.count("token", "authorization_code")).toBe(codeGrants + 1);
  });

  it("fails the login when the response names another issuer (RFC 9207), redeeming no code", async () => {
    const { oauth } = rig.client();
    const refused = await callTool(rig.full.url, oauth, "list_channels");
    await oauth.challenged(401, refused.headers.get("www-authenticate"));
    const outcome = oauth.loggedIn().then(
      () => "logged in",
      (err: { code?: string }) => err.code,
    );
    await until(() => oauth.loginUrl() !== undefined, "the login link");
    const { callback } = await completeLogin(oauth.loginUrl() as URL, { deliver: false });
    expect(callback.searchParams.get("iss")).toBe(rig.idp.issuer);
    callback.searchParams.set("iss", "http://127.0.0.1:1");
    const codeGrants = rig.count("token", "authorization_code");
    const answer = await fetch(callback);
    expect(answer.status).toBe(400);
    expect(await outcome).toBe("callback_invalid");
    expect(rig.count("token", "authorization_code")).toBe(codeGrants);
  });

  it("refreshes a token that expires within 60 s, stores the rotated refresh token, and leaves a fresh one alone", async () => {
    const { oauth, home } = rig.client();
    await rig.logIn(oauth);
    const store = createStore(home, rig.full.url);
    const first = (await store.read())?.tokens;
    const refreshes = rig.count("token", "refresh_token");
    expect(await oauth.authorization()).toBe(`Bearer ${first?.access_token}`);
    expect(rig.count("token", "refresh_token")).toBe(refreshes);

    await expireSoon(home, rig.full.url);
    const header = await oauth.authorization();
    const second = (await store.read())?.tokens;
    expect(rig.count("token", "refresh_token")).toBe(refreshes + 1);
    expect(rig.idp.requests.filter((r) => r.route === "token").at(-1)?.params.resource).toBe(
      rig.full.url.href,
    );
    expect(header).toBe(`Bearer ${second?.access_token}`);
    expect(second?.access_token).not.toBe(first?.access_token);
    expect(second?.refresh_token).not.toBe(first?.refresh_token);
    expect(second?.expires_at).toBeGreaterThan(Date.now() / 1000 + 500);
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
  });

  it("refreshes on a 401 and tells the caller to retry", async () => {
    const { oauth, home } = rig.client();
    await rig.logIn(oauth);
    const before = (await createStore(home, rig.full.url).read())?.tokens?.access_token;
    await oauth.authorization();
    const header = 'Bearer error="invalid_token", resource_metadata="x"';
    expect(await oauth.challenged(401, header)).toBe("retry");
    expect(await oauth.authorization()).not.toBe(`Bearer ${before}`);
  });

  it("starts exactly one new login when the refresh token was revoked, however many callers meet the 401", async () => {
    const { oauth, home, links, logs } = rig.client();
    await rig.logIn(oauth);
    const tokens = (await createStore(home, rig.full.url).read())?.tokens;
    await rig.idp.revoke(tokens?.refresh_token ?? "", tokens?.client_id ?? "");
    await expireSoon(home, rig.full.url, -10);
    const codes = rig.idp.codesIssued;

    const refused = await callTool(rig.full.url, oauth, "list_channels");
    expect(refused.status).toBe(401);
    const header = refused.headers.get("www-authenticate");
    const answers = await Promise.all([1, 2, 3].map(() => oauth.challenged(401, header)));
    expect(answers).toEqual(["login", "login", "login"]);
    await until(() => oauth.loginUrl() !== undefined, "the login link");
    expect(logs.join("\n")).toMatch(/no longer valid/);
    await completeLogin(oauth.loginUrl() as URL);
    await oauth.loggedIn();
    expect(links).toHaveLength(2);
    expect(rig.idp.codesIssued).toBe(codes + 1);
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
    expect(links).toHaveLength(2);
  });

  it("retries with the token another instance refreshed, without refreshing again", async () => {
    const home = newHome();
    const a = rig.client({ home });
    await rig.logIn(a.oauth);
    const first = await a.oauth.authorization();
    const b = rig.client({ home });
    await expireSoon(home, rig.full.url);
    const second = await b.oauth.authorization();
    expect(second).not.toBe(first);
    const refreshes = rig.count("token", "refresh_token");
    expect(await a.oauth.challenged(401, 'Bearer error="invalid_token"')).toBe("retry");
    expect(await a.oauth.authorization()).toBe(second);
    expect(rig.count("token", "refresh_token")).toBe(refreshes);
  });

  it("registers anew and logs in again when the server moved to another authorization server", async () => {
    const { oauth, home } = rig.client();
    const store = createStore(home, rig.full.url);
    await store.write({
      version: 1,
      server_url: rig.full.url.href,
      issuer: "https://old-rig.idp.example.com",
      client: {
        kind: "dynamic",
        client_id: "old-client",
        token_endpoint_auth_method: "none",
        redirect_uris: [],
      },
      tokens: {
        access_token: "old-token",
        refresh_token: "old-refresh",
        obtained_at: 1,
        client_id: "old-client",
        expires_at: Math.floor(Date.now() / 1000) + 3600,
      },
    });
    const registrations = rig.count("registration");
    expect(await oauth.authorization()).toBe("Bearer old-token");
    await rig.logIn(oauth);
    expect(rig.count("registration")).toBe(registrations + 1);
    const record = await store.read();
    expect(record?.issuer).toBe(rig.idp.issuer);
    expect(record?.client?.client_id).not.toBe("old-client");
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
  });

  it("does not loop into another login when the server refuses the token a login just produced", async () => {
    const { oauth, home, links } = rig.client();
    await rig.logIn(oauth);
    const store = createStore(home, rig.full.url);
    const record = await store.read();
    if (!record?.tokens) throw new Error("no tokens");
    const { refresh_token: _, ...withoutRefresh } = record.tokens;
    await store.write({ ...record, tokens: withoutRefresh });
    await oauth.authorization();
    await expect(oauth.challenged(401, 'Bearer error="invalid_token"')).rejects.toMatchObject({
      code: "token_rejected",
    });
    expect(links).toHaveLength(1);
  });

  it("treats a 403 that asks for no scope as final", async () => {
    const { oauth, links } = rig.client();
    await expect(oauth.challenged(403, 'Bearer error="access_denied"')).rejects.toMatchObject({
      code: "forbidden",
    });
    expect(links).toHaveLength(0);
  });

  it("steps up on insufficient_scope, asking for what it had plus what the server wants", async () => {
    const { oauth, links } = rig.client({ serverUrl: rig.readOnly.url });
    await rig.logIn(oauth, rig.readOnly.url);
    expect((await oauth.status()).scopes).toEqual(["smack.read"]);
    const write = () =>
      callTool(rig.readOnly.url, oauth, "write_to_channel", { channel: "oauth", text: "hello" });
    const refused = await write();
    expect(refused.status).toBe(403);
    const before = rig.idp.requests.length;
    expect(await oauth.challenged(403, refused.headers.get("www-authenticate"))).toBe("login");
    await until(() => links.length === 2, "the step-up login link");
    await completeLogin(links[1] as URL);
    await oauth.loggedIn();
    const asked = rig.requestsSince(before).find((r) => r.route === "authorization")?.params.scope;
    expect(asked?.split(" ").sort()).toEqual(["offline_access", "smack.read", "smack.write"]);
    expect((await oauth.status()).scopes?.sort()).toEqual(["smack.read", "smack.write"]);
    expect((await write()).status).toBe(200);
  });

  it("gives up stepping up after two logins that did not bring the scope", async () => {
    const { oauth, links } = rig.client({ serverUrl: rig.readOnly.url, loginTimeoutMs: 300 });
    const header = `Bearer error="insufficient_scope", scope="smack.admin", resource_metadata="http://127.0.0.1:${rig.readOnly.url.port}/.well-known/oauth-protected-resource/mcp"`;
    for (const attempt of [1, 2]) {
      expect(await oauth.challenged(403, header)).toBe("login");
      await expect(oauth.loggedIn()).rejects.toMatchObject({ code: "login_timeout" });
      expect(links).toHaveLength(attempt);
    }
    await expect(oauth.challenged(403, header)).rejects.toMatchObject({ code: "step_up_limit" });
    expect(links).toHaveLength(2);
  });

  it("shares one login among three clients with one home: one link, one authorization code", async () => {
    const home = newHome();
    const clients = [rig.client({ home }), rig.client({ home }), rig.client({ home })];
    const codes = rig.idp.codesIssued;
    const registrations = rig.count("registration");
    const refused = await callTool(rig.full.url, clients[0]?.oauth as OAuthClient, "list_channels");
    const header = refused.headers.get("www-authenticate");
    for (const c of clients) expect(await c.oauth.challenged(401, header)).toBe("login");
    const links = () => clients.flatMap((c) => c.links);
    await until(() => links().length > 0, "a login link");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(links()).toHaveLength(1);
    await completeLogin(links()[0] as URL);
    await Promise.all(clients.map((c) => c.oauth.loggedIn()));
    const headers = await Promise.all(clients.map((c) => c.oauth.authorization()));
    expect(new Set(headers).size).toBe(1);
    expect(headers[0]).toMatch(/^Bearer /);
    expect(rig.idp.codesIssued).toBe(codes + 1);
    expect(rig.count("registration")).toBe(registrations + 1);
    expect(links()).toHaveLength(1);
  });

  it("shares one login among three proxy processes: one link, one authorization code", async () => {
    const home = newHome();
    const codes = rig.idp.codesIssued;
    const children = [0, 1, 2].map(() => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join("test", "support", "oauth-child.ts"), rig.full.url.href, home],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const lines: Record<string, unknown>[] = [];
      let buffer = "";
      let errors = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
          lines.push(JSON.parse(buffer.slice(0, i)));
          buffer = buffer.slice(i + 1);
        }
      });
      child.stderr.on("data", (chunk: Buffer) => {
        errors += chunk.toString();
      });
      return { child, lines, errors: () => errors };
    });
    try {
      const all = () => children.flatMap((c) => c.lines);
      await until(
        () => all().filter((l) => "challenged" in l).length === 3,
        "three challenged children",
        20_000,
      );
      await until(() => all().some((l) => "loginUrl" in l), "a login link", 20_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const links = all().filter((l) => "loginUrl" in l);
      expect(links).toHaveLength(1);
      await completeLogin(new URL(String(links[0]?.loginUrl)));
      await until(
        () => all().filter((l) => "token" in l).length === 3,
        `three tokens (${children.map((c) => c.errors()).join("\n")})`,
        20_000,
      );
      expect(new Set(all().flatMap((l) => ("token" in l ? [l.token] : []))).size).toBe(1);
      expect(rig.idp.codesIssued).toBe(codes + 1);
    } finally {
      for (const { child } of children) child.kill("SIGKILL");
    }
  });
});
