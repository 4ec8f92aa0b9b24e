import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/index.js";

const minimal = `
listen: "127.0.0.1:8080"
backends:
  - name: smack
    target: "http://127.0.0.1:50051"
    descriptors: reflection
`;

describe("parseConfig", () => {
  it("reads the minimal config with defaults", () => {
    const c = parseConfig(minimal);
    expect(c).toMatchObject({ host: "127.0.0.1", port: 8080, path: "/mcp", serverName: "mcpengine" });
    expect(c.backends).toEqual([
      {
        name: "smack",
        target: "http://127.0.0.1:50051",
        descriptors: { kind: "reflection" },
        protocol: "grpc",
        timeoutMs: 30_000,
        services: [],
        identity: { mode: "none", exchangeScopes: [], claims: [] },
      },
    ]);
  });

  it("resolves descriptor files against the config's folder and reads protocol and timeout", () => {
    const c = parseConfig(
      `backends: [{ name: a, target: "https://a.internal:443", descriptors: "img/a.binpb", protocol: grpc-web, timeout: "1.5s" }]`,
      { baseDir: "/etc/mcpengine" },
    );
    expect(c.backends[0]).toMatchObject({
      descriptors: { kind: "file", path: "/etc/mcpengine/img/a.binpb" },
      protocol: "grpc-web",
      timeoutMs: 1500,
    });
  });

  it("replaces $-brace references from the environment", () => {
    const c = parseConfig(`backends: [{ name: a, target: "\${TARGET}" }]`, {
      env: { TARGET: "http://10.0.0.1:1" },
    });
    expect(c.backends[0]?.target).toBe("http://10.0.0.1:1");
  });

  it.each([
    [`backends: [{ name: a, target: "\${NOPE}" }]`, /NOPE is not set/],
    [`backends: []`, /at least one backend/],
    [`backends: [{ name: a, target: "127.0.0.1:1" }]`, /http:\/\/ \(h2c\) or https:\/\//],
    [
      `backends: [{ name: a, target: "http://x:1" }, { name: a, target: "http://y:1" }]`,
      /duplicate backend name "a"/,
    ],
    [`listen: "8080"\nbackends: [{ name: a, target: "http://x:1" }]`, /host:port/],
    [`bogus: 1\nbackends: [{ name: a, target: "http://x:1" }]`, /bogus/],
    [`backends: [{ name: a, target: "http://x:1", protocol: carrier-pigeon }]`, /protocol|carrier/],
    [`backends: [{ name: a, target: "http://x:1", timeout: "soon" }]`, /timeout|soon/],
    [`backends: [{ target: "http://x:1" }]`, /name is required/],
    ["backends: [", /not valid YAML/],
  ])("rejects %j", (text, message) => {
    expect(() => parseConfig(text, { env: {} })).toThrow(ConfigError);
    expect(() => parseConfig(text, { env: {} })).toThrow(message);
  });
});

describe("parseConfig auth", () => {
  const backends = `backends: [{ name: a, target: "http://x:1" }]`;

  it("applies defaults and a preset", () => {
    const c = parseConfig(
      `auth: { issuer: "https://login.example/t/v2.0", audience: "https://mcp.example/mcp", preset: entra }\n${backends}`,
    );
    expect(c.auth).toMatchObject({
      issuer: "https://login.example/t/v2.0",
      audience: "https://mcp.example/mcp",
      algorithms: ["RS256"],
      scopeClaims: ["scp", "roles"],
      clockSkewSeconds: 60,
      cacheSize: 10_000,
      jwksCooldownMs: 30_000,
    });
    expect(c.backends[0]?.identity.mode).toBe("forward");
  });

  it("defaults to asymmetric algorithms and reads durations", () => {
    const c = parseConfig(
      `auth: { issuer: "https://idp", audience: "https://mcp/mcp", clockSkew: "5s", jwksCooldown: "2s" }\n${backends}`,
    );
    expect(c.auth?.algorithms).not.toContain("HS256");
    expect(c.auth?.clockSkewSeconds).toBe(5);
    expect(c.auth?.jwksCooldownMs).toBe(2000);
  });

  it.each([
    [`auth: { audience: "https://mcp/mcp" }\n${backends}`, /issuer/],
    [`auth: { issuer: "https://idp" }\n${backends}`, /audience/],
    [`auth: { issuer: "https://idp", audience: "a", algorithms: [HS256] }\n${backends}`, /HS256/],
    [`auth: { issuer: "https://idp", audience: "a", algorithms: [none] }\n${backends}`, /none/],
    [`auth: { issuer: "https://idp", audience: "a", preset: nope }\n${backends}`, /unknown preset/],
    [
      `auth: { issuer: "https://idp", audience: "a", introspection: {} }\n${backends}`,
      /client_id and client_secret/,
    ],
    [
      `auth: { issuer: "https://idp", audience: "a" }\nbackends: [{ name: a, target: "http://x:1", identity: { mode: exchange, exchangeAudience: b } }]`,
      /token exchange/,
    ],
    [`backends: [{ name: a, target: "http://x:1", identity: { mode: forward } }]`, /needs an auth section/],
    [
      `backends: [{ name: a, target: "http://x:1", identity: { mode: teleport } }]`,
      /forward, exchange or none/,
    ],
  ])("rejects %j", (text, message) => {
    expect(() => parseConfig(text, { env: {} })).toThrow(message);
  });
});
