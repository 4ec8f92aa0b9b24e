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
