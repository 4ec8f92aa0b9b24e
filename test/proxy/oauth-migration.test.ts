import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createOAuthClient } from "../../src/proxy/oauth/client.js";

/**
 * A server whose protected resource metadata names one authorization server,
 * then another (MCP 2026-07-28 authorization, "Authorization Server Binding"),
 * with both servers scripted behind a `fetch`. The browser is played by the
 * test: it follows the login link straight to the proxy's loopback callback.
 */
function world() {
  const server = new URL("https://mcp.test/mcp");
  const prm = "https://mcp.test/.well-known/oauth-protected-resource/mcp";
  let current = "https://as1.test";
  const seen: { as: string; route: string; clientId: string | null }[] = [];
  const json = (status: number, body: object) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.href === prm) return json(200, { resource: server.href, authorization_servers: [current] });
    const as = url.origin;
    if (url.pathname === "/.well-known/oauth-authorization-server") {
      return json(200, {
        issuer: as,
        authorization_endpoint: `${as}/authorize`,
        token_endpoint: `${as}/token`,
        registration_endpoint: `${as}/register`,
        code_challenge_methods_supported: ["S256"],
      });
    }
    const body = String(init?.body ?? "");
    if (url.pathname === "/register") {
      seen.push({ as, route: "register", clientId: null });
      return json(201, {
        client_id: `${new URL(as).hostname}-client`,
        redirect_uris: JSON.parse(body).redirect_uris,
      });
    }
    if (url.pathname === "/token") {
      seen.push({ as, route: "token", clientId: new URLSearchParams(body).get("client_id") });
      return json(200, {
        access_token: `${new URL(as).hostname}-token`,
        token_type: "Bearer",
        expires_in: 3600,
      });
    }
    return json(404, {});
  }) as typeof globalThis.fetch;
  const oauth = createOAuthClient({
    serverUrl: server,
    home: mkdtempSync(join(tmpdir(), "mcpengine-migration-")),
    fetch,
    onLoginUrl(link) {
      const redirect = new URL(link.searchParams.get("redirect_uri") ?? "");
      redirect.searchParams.set("code", "c");
      redirect.searchParams.set("state", link.searchParams.get("state") ?? "");
      seen.push({ as: link.origin, route: "authorize", clientId: link.searchParams.get("client_id") });
      void globalThis.fetch(redirect);
    },
  });
  return {
    oauth,
    seen,
    challenge: `Bearer resource_metadata="${prm}"`,
    moveTo(as: string) {
      current = as;
    },
  };
}

describe("an MCP server that moves to another authorization server", () => {
  it("registers with the new one and logs in there, even right after a login at the old one", async () => {
    const w = world();
    expect(await w.oauth.challenged(401, w.challenge)).toBe("login");
    await w.oauth.loggedIn();
    expect(await w.oauth.authorization()).toBe("Bearer as1.test-token");

    // The old server's token is refused once the metadata names the new server.
    w.moveTo("https://as2.test");
    expect(await w.oauth.challenged(401, w.challenge)).toBe("login");
    await w.oauth.loggedIn();
    expect(await w.oauth.authorization()).toBe("Bearer as2.test-token");
    const atNew = w.seen.filter((s) => s.as === "https://as2.test");
    expect(atNew.map((s) => s.route)).toEqual(["register", "authorize", "token"]);
    expect(atNew.every((s) => s.clientId !== "as1.test-client")).toBe(true);
    expect((await w.oauth.status()).issuer).toBe("https://as2.test");
  });

  it("still refuses to loop when the same server rejects the token its login just produced", async () => {
    const w = world();
    expect(await w.oauth.challenged(401, w.challenge)).toBe("login");
    await w.oauth.loggedIn();
    await w.oauth.authorization();
    await expect(w.oauth.challenged(401, w.challenge)).rejects.toMatchObject({ code: "token_rejected" });
  });
});
