import { describe, expect, it } from "vitest";
import { banner } from "../../src/demo/banner.js";
import { isPartMessage } from "../../src/demo/parts.js";
import { type DemoSettings, gatewayConfig, issuerUrl, mcpUrl } from "../../src/demo/settings.js";

const SETTINGS: DemoSettings = { host: "127.0.0.1", port: 8080, idpPort: 8090, smackPort: 50051, auth: true };

describe("the demo's URLs", () => {
  it.each([
    ["127.0.0.1", "http://127.0.0.1:8080/mcp"],
    ["localhost", "http://localhost:8080/mcp"],
    ["0.0.0.0", "http://127.0.0.1:8080/mcp"],
    ["::", "http://127.0.0.1:8080/mcp"],
    ["::1", "http://[::1]:8080/mcp"],
  ])("reaches a gateway listening on %s at %s", (host, url) => {
    expect(mcpUrl({ host, port: 8080 })).toBe(url);
  });

  it("names the identity provider on loopback", () => {
    expect(issuerUrl(8090)).toBe("http://127.0.0.1:8090");
  });
});

describe("the demo's gateway configuration", () => {
  it("validates tokens from the demo's provider for the MCP URL, and forwards only the subject to Smack", () => {
    const config = gatewayConfig(SETTINGS);
    expect(config.publicUrl).toBe("http://127.0.0.1:8080");
    expect(config.auth).toMatchObject({
      issuer: "http://127.0.0.1:8090",
      audience: "http://127.0.0.1:8080/mcp",
      scopesSupported: ["smack.read", "smack.write"],
    });
    expect(config.backends).toMatchObject([
      { name: "smack", target: "http://127.0.0.1:50051", identity: { mode: "none" } },
    ]);
  });

  it("has no auth section with --no-auth", () => {
    const config = gatewayConfig({ ...SETTINGS, auth: false });
    expect(config.auth).toBeUndefined();
    expect(config.backends[0]?.identity.mode).toBe("none");
  });

  it("listens on an IPv6 host in brackets", () => {
    expect(gatewayConfig({ ...SETTINGS, host: "::1" })).toMatchObject({ host: "::1", port: 8080 });
  });
});

describe("a part's IPC message", () => {
  it.each([
    [{ kind: "ready", port: 1 }, true],
    [{ kind: "failed", message: "x" }, true],
    [{ kind: "ready" }, false],
    [{ kind: "ready", port: "1" }, false],
    [{ kind: "failed" }, false],
    [{ kind: "other" }, false],
    ["ready", false],
    [null, false],
  ])("%j is one: %s", (message, expected) => {
    expect(isPartMessage(message)).toBe(expected);
  });
});

describe("the demo's banner", () => {
  const facts = { url: "http://127.0.0.1:8080/mcp", smack: "127.0.0.1:1 (gRPC)", node: "/n", bin: "/b.js" };

  it("gives the users, the host entry and the Inspector through the proxy when login is on", () => {
    const text = banner({ ...facts, issuer: "http://127.0.0.1:8090" });
    expect(text).toContain("MCP gateway on http://127.0.0.1:8080/mcp");
    expect(text).toContain("alice / wonderland   reads and writes (smack.read smack.write)");
    expect(text).toContain("bob / builder        read-only (smack.read); no write_to_channel");
    expect(text).toContain('"command": "/n"');
    expect(text).toContain("claude mcp add smack -- /n /b.js proxy http://127.0.0.1:8080/mcp");
    expect(text).toContain("/n /b.js proxy install http://127.0.0.1:8080/mcp --name smack --claude-desktop");
    expect(text).toContain("npx @modelcontextprotocol/inspector /n /b.js proxy http://127.0.0.1:8080/mcp\n");
    expect(text).toMatch(/Press Ctrl\+C to stop everything\.\n$/);
  });

  it("has no users and points the Inspector at the URL itself with --no-auth", () => {
    const text = banner(facts);
    expect(text).not.toContain("wonderland");
    expect(text).toContain(
      "npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8080/mcp --transport http --method tools/list",
    );
  });
});
