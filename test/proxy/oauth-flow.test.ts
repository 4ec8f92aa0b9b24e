import type { AuthorizationServer } from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { OAuthClientError } from "../../src/proxy/oauth/errors.js";
import {
  authorizationRequest,
  checkCallback,
  checkPkce,
  type GrantContext,
  storedTokens,
} from "../../src/proxy/oauth/flow.js";
import { type ScopeSources, selectScopes } from "../../src/proxy/oauth/scopes.js";

const AS: AuthorizationServer = {
  issuer: "https://id.example.com",
  authorization_endpoint: "https://id.example.com/authorize?tenant=t1",
  token_endpoint: "https://id.example.com/token",
  code_challenge_methods_supported: ["S256"],
  authorization_response_iss_parameter_supported: true,
};
const CTX: GrantContext = {
  http: { fetch: globalThis.fetch },
  as: AS,
  registration: { kind: "dynamic", client_id: "c1", token_endpoint_auth_method: "none" },
  resource: "https://mcp.example.com/mcp",
};
const REDIRECT = "http://127.0.0.1:4567/callback";

describe("PKCE", () => {
  const cases: [string, string[] | undefined, boolean][] = [
    ["S256 listed", ["plain", "S256"], true],
    ["no list (some OpenID providers leave it out)", undefined, true],
    ["only plain listed", ["plain"], false],
    ["an empty list", [], false],
  ];
  it.each(cases)("goes ahead or refuses with %s", (_name, methods, ok) => {
    const { code_challenge_methods_supported: _, ...rest } = AS;
    const as: AuthorizationServer = methods ? { ...rest, code_challenge_methods_supported: methods } : rest;
    if (ok) expect(() => checkPkce(as)).not.toThrow();
    else expect(() => checkPkce(as)).toThrow(expect.objectContaining({ code: "pkce_unsupported" }));
  });
});

describe("scope selection", () => {
  const cases: [string, ScopeSources, string[]][] = [
    ["the challenge's scopes first", { challenged: ["a"], resourceScopes: ["a", "b"] }, ["a"]],
    ["else the resource's scopes_supported", { resourceScopes: ["a", "b"] }, ["a", "b"]],
    ["else none at all", { serverScopes: ["x", "y"] }, []],
    ["what was granted, on a step-up", { challenged: ["w"], granted: ["r"] }, ["w", "r"]],
    ["the user's extra scopes", { resourceScopes: ["a"], extra: ["e"] }, ["a", "e"]],
    [
      "offline_access where the server has it",
      { challenged: ["a"], serverScopes: ["offline_access"] },
      ["a", "offline_access"],
    ],
    ["each scope once", { challenged: ["a", "b"], granted: ["b", "a"], extra: ["a"] }, ["a", "b"]],
  ];
  it.each(cases)("takes %s", (_name, sources, expected) => {
    expect(selectScopes(sources)).toEqual(expected);
  });
});

describe("the authorization request", () => {
  it("carries S256 PKCE, state, the resource, the scopes, and keeps the endpoint's own query", async () => {
    const pending = await authorizationRequest(CTX, REDIRECT, ["a", "b"]);
    const q = pending.url.searchParams;
    expect(pending.url.origin + pending.url.pathname).toBe("https://id.example.com/authorize");
    expect(q.get("tenant")).toBe("t1");
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe("c1");
    expect(q.get("redirect_uri")).toBe(REDIRECT);
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(q.get("code_challenge")).not.toBe(pending.codeVerifier);
    expect(q.get("state")).toBe(pending.state);
    expect(q.get("scope")).toBe("a b");
    expect(q.get("resource")).toBe("https://mcp.example.com/mcp");
    expect(q.has("prompt")).toBe(false);
  });

  it("leaves out scope and resource when there are none, and asks for consent with offline_access", async () => {
    const { resource: _, ...noResource } = CTX;
    const bare = await authorizationRequest(noResource, REDIRECT, []);
    expect(bare.url.searchParams.has("scope")).toBe(false);
    expect(bare.url.searchParams.has("resource")).toBe(false);
    const offline = await authorizationRequest(CTX, REDIRECT, ["offline_access"]);
    expect(offline.url.searchParams.get("prompt")).toBe("consent");
  });
});

describe("the callback's checks", () => {
  const callback = (params: Record<string, string>) => new URLSearchParams(params);

  it("ignores a response with another state or none", async () => {
    const pending = await authorizationRequest(CTX, REDIRECT, []);
    expect(checkCallback(CTX, pending, callback({ code: "x", iss: AS.issuer })).kind).toBe("foreign");
    expect(checkCallback(CTX, pending, callback({ code: "x", state: "forged", iss: AS.issuer })).kind).toBe(
      "foreign",
    );
  });

  it("accepts the right state and issuer", async () => {
    const pending = await authorizationRequest(CTX, REDIRECT, []);
    const check = checkCallback(CTX, pending, callback({ code: "x", state: pending.state, iss: AS.issuer }));
    expect(check.kind === "valid" && check.params.get("code")).toBe("x");
  });

  const bad: [string, Record<string, string>, string][] = [
    [
      "another issuer (RFC 9207 mix-up)",
      { code: "x", iss: "https://attacker.example.com" },
      "callback_invalid",
    ],
    [
      "an issuer that differs only by a trailing slash",
      { code: "x", iss: "https://id.example.com/" },
      "callback_invalid",
    ],
    ["no issuer from a server that promised one", { code: "x" }, "callback_invalid"],
    ["an error answer", { error: "access_denied", iss: "https://id.example.com" }, "authorization_denied"],
  ];
  it.each(bad)("refuses %s", async (_name, params, code) => {
    const pending = await authorizationRequest(CTX, REDIRECT, []);
    let caught: unknown;
    try {
      checkCallback(CTX, pending, callback({ ...params, state: pending.state }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OAuthClientError);
    expect((caught as OAuthClientError).code).toBe(code);
  });
});

describe("stored tokens", () => {
  it("turns expires_in into expires_at and keeps what a refresh leaves out", () => {
    const now = Date.UTC(2030, 0, 1);
    const first = storedTokens(
      { access_token: "a1", token_type: "bearer", expires_in: 600, refresh_token: "r1", scope: "s" },
      "c1",
      undefined,
      now,
    );
    expect(first).toEqual({
      access_token: "a1",
      refresh_token: "r1",
      scope: "s",
      expires_at: now / 1000 + 600,
      obtained_at: now / 1000,
      client_id: "c1",
    });
    const second = storedTokens({ access_token: "a2", token_type: "bearer" }, "c1", first, now);
    expect(second).toEqual({
      access_token: "a2",
      refresh_token: "r1",
      scope: "s",
      obtained_at: now / 1000,
      client_id: "c1",
    });
  });
});
