import { describe, expect, it } from "vitest";
import {
  authorizationServerCandidates,
  discover,
  discoverAuthorizationServer,
  resourceCovers,
} from "../../src/proxy/oauth/discovery.js";
import { OAuthClientError } from "../../src/proxy/oauth/errors.js";

const SERVER = new URL("https://mcp.example.com/tenant/mcp");
const ISSUER = "https://id.example.com";

/** A fetch that serves JSON documents by URL, 404 for everything else, and records what was asked. */
function fakeWeb(documents: Record<string, unknown>) {
  const asked: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    asked.push(url);
    const body = documents[url];
    return body === undefined
      ? new Response("not found", { status: 404 })
      : Response.json(body, { headers: { "content-type": "application/json" } });
  }) as typeof globalThis.fetch;
  return { http: { fetch }, asked };
}

const prm = (resource = SERVER.href, issuer = ISSUER) => ({ resource, authorization_servers: [issuer] });
const asMetadata = (issuer = ISSUER) => ({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  code_challenge_methods_supported: ["S256"],
});

describe("protected resource metadata discovery", () => {
  it("reads the metadata where the challenge's resource_metadata points, and nothing else", async () => {
    const hint = "https://mcp.example.com/custom/prm.json";
    const web = fakeWeb({
      [hint]: prm(),
      [`${ISSUER}/.well-known/oauth-authorization-server`]: asMetadata(),
    });
    const found = await discover(web.http, SERVER, hint);
    expect(found.resourceMetadataUrl).toBe(hint);
    expect(web.asked).toEqual([hint, `${ISSUER}/.well-known/oauth-authorization-server`]);
  });

  it("falls back to the path-inserted well-known URI, then to the root", async () => {
    const hint = "https://mcp.example.com/gone";
    const root = "https://mcp.example.com/.well-known/oauth-protected-resource";
    const web = fakeWeb({
      [root]: prm(),
      [`${ISSUER}/.well-known/oauth-authorization-server`]: asMetadata(),
    });
    await discover(web.http, SERVER, hint);
    expect(web.asked.slice(0, 3)).toEqual([
      hint,
      "https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp",
      root,
    ]);
  });

  it("accepts metadata whose resource is the server's origin, a parent of its URL", async () => {
    const root = "https://mcp.example.com/.well-known/oauth-protected-resource";
    const web = fakeWeb({
      [root]: prm("https://mcp.example.com/"),
      [`${ISSUER}/.well-known/oauth-authorization-server`]: asMetadata(),
    });
    expect((await discover(web.http, SERVER)).resource.resource).toBe("https://mcp.example.com/");
  });

  it("refuses metadata that describes another resource", async () => {
    const inserted = "https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp";
    const web = fakeWeb({ [inserted]: prm("https://evil.example.com/mcp") });
    const err = await discover(web.http, SERVER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthClientError);
    expect((err as OAuthClientError).code).toBe("resource_mismatch");
  });

  it("says discovery failed when there is no metadata anywhere", async () => {
    const err = await discover(fakeWeb({}).http, SERVER).catch((e: unknown) => e);
    expect((err as OAuthClientError).code).toBe("discovery_failed");
  });

  const covering: [string, string, boolean][] = [
    ["https://mcp.example.com/tenant/mcp", "https://mcp.example.com/tenant/mcp", true],
    ["https://mcp.example.com/tenant/mcp/", "https://mcp.example.com/tenant/mcp", true],
    ["https://mcp.example.com", "https://mcp.example.com/tenant/mcp", true],
    ["https://mcp.example.com/tenant", "https://mcp.example.com/tenant/mcp", true],
    ["https://mcp.example.com/ten", "https://mcp.example.com/tenant/mcp", false],
    ["https://mcp.example.com/other", "https://mcp.example.com/tenant/mcp", false],
    ["http://mcp.example.com/tenant/mcp", "https://mcp.example.com/tenant/mcp", false],
    ["https://mcp.example.com:8443/tenant/mcp", "https://mcp.example.com/tenant/mcp", false],
    ["https://mcp.example.com/tenant/mcp?x=1", "https://mcp.example.com/tenant/mcp", false],
    ["not a url", "https://mcp.example.com/tenant/mcp", false],
  ];
  it.each(covering)("judges whether metadata for %s serves %s: %s", (resource, server, expected) => {
    expect(resourceCovers(resource, new URL(server))).toBe(expected);
  });
});

describe("authorization server metadata discovery", () => {
  it("tries RFC 8414 then OpenID Connect for an issuer without a path", () => {
    expect(authorizationServerCandidates(new URL(ISSUER)).map((c) => c.kind)).toEqual(["oauth2", "oidc"]);
  });

  it("tries RFC 8414 inserted, OIDC inserted, OIDC appended for an issuer with a path", async () => {
    const issuer = "https://id.example.com/tenant1";
    const appended = `${issuer}/.well-known/openid-configuration`;
    const web = fakeWeb({ [appended]: asMetadata(issuer) });
    const as = await discoverAuthorizationServer(web.http, issuer);
    expect(as.issuer).toBe(issuer);
    expect(web.asked).toEqual([
      "https://id.example.com/.well-known/oauth-authorization-server/tenant1",
      "https://id.example.com/.well-known/openid-configuration/tenant1",
      appended,
    ]);
  });

  it("refuses metadata whose issuer is not exactly the one named", async () => {
    const web = fakeWeb({
      [`${ISSUER}/.well-known/oauth-authorization-server`]: asMetadata("https://id.example.com/other"),
      [`${ISSUER}/.well-known/openid-configuration`]: asMetadata("https://attacker.example.com"),
    });
    const err = await discoverAuthorizationServer(web.http, ISSUER).catch((e: unknown) => e);
    expect((err as OAuthClientError).code).toBe("discovery_failed");
    expect((err as Error).message).toMatch(/oauth2: .*issuer/);
  });

  it("refuses plain http to anything but this machine", async () => {
    const web = fakeWeb({
      "http://id.example.com/.well-known/openid-configuration": asMetadata("http://id.example.com"),
    });
    const err = await discoverAuthorizationServer(web.http, "http://id.example.com").catch((e: unknown) => e);
    expect((err as OAuthClientError).code).toBe("discovery_failed");
    expect(web.asked).toEqual([]);
  });
});
