import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthSettings, createResourceServer } from "../../src/auth/index.js";
import { CLIENT, type Idp, startIdp } from "../support/idp.js";

const AUDIENCE = "http://127.0.0.1:8080/mcp";
const OPAQUE = "urn:mcpengine:opaque";
let idp: Idp;

beforeAll(async () => {
  idp = await startIdp({ opaqueAudience: OPAQUE });
});
afterAll(() => idp.close());

function settings(over: Partial<AuthSettings> = {}): AuthSettings {
  return {
    issuer: idp.issuer,
    audience: AUDIENCE,
    algorithms: ["RS256", "ES256"],
    clockSkewSeconds: 60,
    requireTyp: false,
    scopeClaims: ["scope", "scp"],
    scopesSupported: ["smack.read", "smack.write"],
    cacheSize: 100,
    jwksCooldownMs: 30_000,
    ...over,
  };
}

/** Signs a token with the IdP's own current key, with claims as given. */
async function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT({ scope: "smack.read", client_id: CLIENT.id, ...claims })
    .setProtectedHeader({ alg: "RS256", kid: idp.key.kid, typ: "at+jwt", ...header })
    .sign(idp.key.privateKey);
}

function claims(over: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: idp.issuer, aud: AUDIENCE, sub: "alice", iat: now, exp: now + 300, ...over };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("a real IdP's tokens", () => {
  it("accepts a valid access token and reads subject and scopes", async () => {
    const rs = createResourceServer(settings());
    const result = await rs.authenticate(`Bearer ${await idp.token(AUDIENCE)}`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.identity.subject).toBe(CLIENT.id);
    expect([...result.identity.scopes].sort()).toEqual(["smack.read", "smack.write"]);
  });

  it("refuses a token issued for another resource", async () => {
    const rs = createResourceServer(settings());
    const result = await rs.authenticate(`Bearer ${await idp.token("https://other.example/mcp")}`);
    expect(result).toMatchObject({ ok: false, status: 401, error: "invalid_token" });
    if (!result.ok) expect(result.description).toBe("the token is meant for another resource");
  });

  it("validates an opaque token by introspection, and refuses an unknown one", async () => {
    const rs = createResourceServer(
      settings({ audience: OPAQUE, introspection: { clientId: CLIENT.id, clientSecret: CLIENT.secret } }),
    );
    const ok = await rs.authenticate(`Bearer ${await idp.token(OPAQUE)}`);
    expect(ok.ok).toBe(true);
    expect(rs.stats().introspected).toBe(1);
    const bad = await rs.authenticate("Bearer notARealTokenAtAll123");
    expect(bad).toMatchObject({ ok: false, status: 401, error: "invalid_token" });
  });

  it("pays one signature check per token: later calls hit the cache", async () => {
    const rs = createResourceServer(settings());
    const token = await idp.token(AUDIENCE);
    for (let i = 0; i < 5; i++) expect((await rs.authenticate(`Bearer ${token}`)).ok).toBe(true);
    expect(rs.stats()).toMatchObject({ verified: 1, cacheHits: 4 });
  });
});

describe("forged and broken tokens", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => Promise<string>, RegExp][] = [
    ["an expired token", () => forge(claims({ exp: now() - 600, iat: now() - 900 })), /expired/],
    ["a token not valid yet", () => forge(claims({ nbf: now() + 600 })), /not valid yet/],
    ["a token from another issuer", () => forge(claims({ iss: "https://evil.example" })), /another issuer/],
    [
      "a token for another audience",
      () => forge(claims({ aud: "https://other.example/mcp" })),
      /another resource/,
    ],
    ["a token without exp", () => forge(claims({ exp: undefined })), /"exp" claim/],
    [
      "an unsigned token (alg none)",
      async () => `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims())}.`,
      /algorithm|malformed/,
    ],
    [
      "an HS256 token keyed with the IdP's public key",
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: "HS256", kid: idp.key.kid })
          .sign(new TextEncoder().encode(JSON.stringify(idp.key.publicJwk))),
      /algorithm/,
    ],
    [
      "a token signed by an unknown key",
      async () => {
        const { privateKey } = await generateKeyPair("RS256");
        return new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "intruder" }).sign(privateKey);
      },
      /no key/,
    ],
    [
      "a token whose payload was tampered with",
      async () => {
        const [h, , s] = (await forge(claims())).split(".");
        return `${h}.${b64(claims({ sub: "root", scope: "smack.write admin" }))}.${s}`;
      },
      /signature/,
    ],
    [
      "a token carrying its own key in the header (jwk)",
      async () => {
        const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
        const { exportJWK } = await import("jose");
        return new SignJWT(claims())
          .setProtectedHeader({ alg: "RS256", jwk: await exportJWK(publicKey) })
          .sign(privateKey);
      },
      /signature|no key/,
    ],
  ];

  it.each(cases)("refuses %s with 401 invalid_token and the metadata URL", async (_what, make, reason) => {
    const rs = createResourceServer(settings({ clockSkewSeconds: 5 }));
    const token = await make();
    const result = await rs.authenticate(`Bearer ${token}`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(401);
    expect(result.description).toMatch(reason);
    expect(result.wwwAuthenticate).toContain('error="invalid_token"');
    expect(result.wwwAuthenticate).toContain(`resource_metadata="${rs.metadataUrl}"`);
    expect(result.wwwAuthenticate).not.toContain(token);
  });

  it("requires typ at+jwt when configured", async () => {
    const rs = createResourceServer(settings({ requireTyp: true }));
    const plain = await forge(claims(), { typ: "JWT" });
    expect(await rs.authenticate(`Bearer ${plain}`)).toMatchObject({ ok: false, error: "invalid_token" });
    expect((await rs.authenticate(`Bearer ${await forge(claims())}`)).ok).toBe(true);
  });
});

describe("challenges", () => {
  it("asks for a token with resource_metadata and scope when none is sent", async () => {
    const rs = createResourceServer(settings());
    const result = await rs.authenticate(undefined);
    expect(result).toMatchObject({ ok: false, status: 401, error: "" });
    if (result.ok) return;
    expect(result.wwwAuthenticate).toBe(
      `Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", scope="smack.read smack.write"`,
    );
  });

  it("treats another scheme as no token, and a malformed bearer as a bad request", async () => {
    const rs = createResourceServer(settings());
    expect(await rs.authenticate("Basic dXNlcjpwYXNz")).toMatchObject({ status: 401, error: "" });
    expect(await rs.authenticate("Bearer two tokens")).toMatchObject({
      status: 400,
      error: "invalid_request",
    });
  });

  it("names the needed scopes in a 403 step-up challenge", () => {
    const rs = createResourceServer(settings());
    const f = rs.insufficientScope(["smack.write"]);
    expect(f.status).toBe(403);
    expect(f.wwwAuthenticate).toMatch(
      /^Bearer error="insufficient_scope", scope="smack.write", resource_metadata="/,
    );
  });

  it("publishes RFC 9728 metadata at the path-inserted and root well-known URLs", () => {
    const rs = createResourceServer(settings({ resourceName: "Smack" }));
    expect(rs.metadataPaths).toEqual([
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource",
    ]);
    expect(rs.metadata()).toEqual({
      resource: AUDIENCE,
      authorization_servers: [idp.issuer],
      scopes_supported: ["smack.read", "smack.write"],
      bearer_methods_supported: ["header"],
      resource_name: "Smack",
    });
  });
});

describe("key rotation", () => {
  it("picks up a new IdP key without a restart", async () => {
    const rs = createResourceServer(settings({ jwksCooldownMs: 0 }));
    expect((await rs.authenticate(`Bearer ${await idp.token(AUDIENCE)}`)).ok).toBe(true);
    await idp.rotate("key-2");
    const fresh = await idp.token(AUDIENCE, "smack.read");
    expect(JSON.parse(Buffer.from(fresh.split(".")[0] ?? "", "base64url").toString()).kid).toBe("key-2");
    expect((await rs.authenticate(`Bearer ${fresh}`)).ok).toBe(true);
  });

  it("does not hammer the IdP when flooded with unknown key ids", async () => {
    const rs = createResourceServer(settings({ jwksCooldownMs: 60_000 }));
    expect((await rs.authenticate(`Bearer ${await idp.token(AUDIENCE)}`)).ok).toBe(true);
    const before = idp.jwksFetches;
    const { privateKey } = await generateKeyPair("RS256");
    for (let i = 0; i < 50; i++) {
      const t = await new SignJWT(claims())
        .setProtectedHeader({ alg: "RS256", kid: `flood-${i}` })
        .sign(privateKey);
      expect((await rs.authenticate(`Bearer ${t}`)).ok).toBe(false);
    }
    expect(idp.jwksFetches - before).toBeLessThanOrEqual(1);
  });
});

describe("tokens under load and at the edges of time", () => {
  it("verifies one token once, however its header is spelled", async () => {
    const rs = createResourceServer(settings({ cacheSize: 4 }));
    const token = await idp.token(AUDIENCE);
    const spellings = Array.from(
      { length: 200 },
      (_, i) => `${i % 2 ? "bearer" : "Bearer"}${" ".repeat(1 + (i % 7))}${token}${" ".repeat(i % 3)}`,
    );
    for (const header of spellings) expect((await rs.authenticate(header)).ok).toBe(true);
    expect(rs.stats().verified).toBe(1);
    // The canonical spelling is still cached: 200 odd spellings did not evict it.
    expect(await rs.authenticate(`Bearer ${token}`)).toMatchObject({ ok: true });
    expect(rs.stats().verified).toBe(1);
  });

  it("fetches the issuer's keys once for concurrent first requests", async () => {
    const rs = createResourceServer(settings());
    const tokens = await Promise.all(Array.from({ length: 20 }, () => forge(claims())));
    const before = idp.jwksFetches;
    const results = await Promise.all(tokens.map((t) => rs.authenticate(`Bearer ${t}`)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(idp.jwksFetches - before).toBe(1);
  });

  it("refuses a token issued an hour in the future, and accepts one within the clock skew", async () => {
    const rs = createResourceServer(settings({ clockSkewSeconds: 60 }));
    const now = Math.floor(Date.now() / 1000);
    const future = await rs.authenticate(
      `Bearer ${await forge(claims({ iat: now + 3600, exp: now + 7200 }))}`,
    );
    expect(future).toMatchObject({ ok: false, status: 401, error: "invalid_token" });
    if (!future.ok) expect(future.description).toBe("the token was issued in the future (iat)");
    const skewed = await rs.authenticate(`Bearer ${await forge(claims({ iat: now + 30 }))}`);
    expect(skewed.ok).toBe(true);
  });
});
