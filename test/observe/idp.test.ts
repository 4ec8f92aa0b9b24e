import { afterEach, describe, expect, it } from "vitest";
import { closedPort, PLANTED_JWT, type Rig, startJwks, startRig } from "./rig.js";

const AUDIENCE = "http://gateway.test/mcp";

/** The gateway's `mcpengine_auth_requests_total` by outcome. */
async function authOutcomes(rig: Rig): Promise<{ [outcome: string]: number }> {
  const text = await (await fetch(`${rig.base}/metrics`)).text();
  const out: { [outcome: string]: number } = {};
  for (const m of text.matchAll(/^mcpengine_auth_requests_total\{outcome="(\w+)"\} (\d+)$/gm)) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** Lines of identity-provider failures. */
function failures(rig: Rig) {
  return rig.lines().filter((l) => l.msg.startsWith("identity provider failure"));
}

describe("an identity provider that cannot be reached", () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it("is logged with its cause when the JWKS cannot be fetched, and the token refused as invalid_token", async () => {
    const port = await closedPort();
    rig = await startRig({
      config: {
        auth: { issuer: "http://idp.test", audience: AUDIENCE, jwksUri: `http://127.0.0.1:${port}/jwks` },
      },
    });
    const res = await rig.call(1, "tools/list", {}, { authorization: `Bearer ${PLANTED_JWT}` });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    expect(await res.json()).toMatchObject({
      error: "invalid_token",
      error_description: "the token could not be verified: the identity provider is unavailable",
    });
    expect(failures(rig)).toEqual([
      expect.objectContaining({
        level: "error",
        stage: "jwks",
        msg: "identity provider failure (jwks): tokens cannot be verified and are refused as invalid_token",
        err: expect.objectContaining({ message: expect.stringMatching(/fetch failed|ECONNREFUSED/) }),
      }),
    ]);
    expect(JSON.stringify(failures(rig)[0])).toContain(`127.0.0.1:${port}`);
    expect(await authOutcomes(rig)).toMatchObject({ error: 1, invalid_token: 0, ok: 0 });
  });

  it("is logged when discovery fails, naming the issuer and why", async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    rig = await startRig({ config: { auth: { issuer, audience: AUDIENCE } } });
    const res = await rig.call(1, "tools/list", {}, { authorization: `Bearer ${PLANTED_JWT}` });
    expect(res.status).toBe(401);
    await res.text();
    const [line, ...more] = failures(rig);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ stage: "discovery", level: "error" });
    expect(JSON.stringify(line)).toContain(`cannot discover the metadata of ${issuer}`);
  });

  it("is logged when the introspection endpoint fails, and its client secret is in no line", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}/introspect`;
    rig = await startRig({
      config: {
        auth: {
          issuer: "http://idp.test",
          audience: AUDIENCE,
          introspection: { endpoint, clientId: "gw", clientSecret: "introspection-secret-value" },
        },
      },
    });
    const res = await rig.call(1, "tools/list", {}, { authorization: "Bearer opaque-token-value" });
    expect(res.status).toBe(401);
    await res.text();
    expect(failures(rig)).toEqual([expect.objectContaining({ stage: "introspection" })]);
    expect(JSON.stringify(failures(rig)[0])).toContain(endpoint);
    const all = rig.raw.join("");
    expect(all).not.toContain("introspection-secret-value");
    expect(all).not.toContain("opaque-token-value");
  });

  it("is logged once per stage in a burst, the next line counting those left out", async () => {
    const port = await closedPort();
    rig = await startRig({
      config: {
        auth: { issuer: "http://idp.test", audience: AUDIENCE, jwksUri: `http://127.0.0.1:${port}/jwks` },
      },
    });
    for (let i = 0; i < 5; i++) {
      // Distinct tokens: a refused token is not cached, but be sure each is verified anew.
      const res = await rig.call(i, "tools/list", {}, { authorization: `Bearer ${PLANTED_JWT}${i}` });
      expect(res.status).toBe(401);
      await res.text();
    }
    expect(failures(rig)).toHaveLength(1);
    expect((await authOutcomes(rig)).error).toBe(5);
  });
});

describe("auth outcomes in the metrics", () => {
  it("count admitted, missing, malformed and refused tokens, and cache hits and misses", async () => {
    const jwks = await startJwks();
    const rig = await startRig({
      config: { auth: { issuer: "http://idp.test", audience: AUDIENCE, jwksUri: jwks.url } },
    });
    try {
      const token = await jwks.sign({
        iss: "http://idp.test",
        aud: AUDIENCE,
        sub: "alice",
        scope: "inventory.read",
      });
      const wrongAudience = await jwks.sign({ iss: "http://idp.test", aud: "http://elsewhere", sub: "eve" });
      const send = async (authorization?: string) =>
        (await rig.call(1, "tools/list", {}, authorization ? { authorization } : {})).status;
      expect(await send(`Bearer ${token}`)).toBe(200);
      expect(await send(`Bearer ${token}`)).toBe(200);
      expect(await send()).toBe(401);
      expect(await send("Bearer a b")).toBe(400);
      expect(await send(`Bearer ${wrongAudience}`)).toBe(401);
      const text = await (await fetch(`${rig.base}/metrics`)).text();
      expect(await authOutcomes(rig)).toEqual({
        ok: 2,
        missing: 1,
        invalid_request: 1,
        invalid_token: 1,
        error: 0,
        insufficient_scope: 0,
      });
      expect(text).toContain('mcpengine_token_cache_requests_total{result="hit"} 1');
      expect(text).toContain('mcpengine_token_cache_requests_total{result="miss"} 2');
      expect(failures(rig)).toEqual([]);
    } finally {
      await rig.close();
      await jwks.close();
    }
  });
});
