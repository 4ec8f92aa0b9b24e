import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfigFile, parseConfig } from "../../src/config/index.js";

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
        maxInflight: 1_024,
        services: [],
        identity: { mode: "none", exchangeScopes: [], claims: [] },
        headers: {},
        keepaliveMs: 0,
        maxAttempts: 3,
      },
    ]);
    expect(c).toMatchObject({
      maxBodyBytes: 4 * 1024 * 1024,
      maxResultBytes: 16 * 1024 * 1024,
      maxConnections: 1024,
      maxInflight: 4_096,
      requestTimeoutMs: 30_000,
      sessions: { maxBufferedBytes: 256 * 1024 * 1024, maxSessionsPerClient: 1_000 },
    });
  });

  it("reads reload_interval, the admin listener and limits, with their defaults", () => {
    const c = parseConfig(minimal);
    expect(c).toMatchObject({ reloadIntervalMs: 30_000, adminScope: "mcpengine.admin" });
    expect(c.adminListen).toBeUndefined();
    expect(c.limits).toBeUndefined();
    const d = parseConfig(`${minimal}
reload_interval: 0s
admin_listen: "[::1]:9901"
admin_scope: ops
limits:
  per_caller: { max_concurrent: 8, requests_per_second: 2.5 }
  per_session: { requests_per_second: 10, burst: 40 }
`);
    expect(d).toMatchObject({
      reloadIntervalMs: 0,
      adminListen: { host: "::1", port: 9901 },
      adminScope: "ops",
    });
    expect(d.limits).toEqual({
      perCaller: { maxConcurrent: 8, rate: { perSecond: 2.5, burst: 3 } },
      perSession: { rate: { perSecond: 10, burst: 40 } },
    });
    // A section that bounds nothing is no limit at all.
    expect(
      parseConfig(`${minimal}
limits: { per_caller: {} }`).limits,
    ).toBeUndefined();
  });

  it("reads the tasks section, with its defaults", () => {
    expect(parseConfig(minimal).tasks).toEqual({
      ttlMs: 3_600_000,
      pollIntervalMs: 1_000,
      syncWindowMs: 500,
      maxRunning: 256,
    });
    const c = parseConfig(`${minimal}
tasks: { ttl: 600s, poll_interval: 2.5s, sync_window: 0s, max_running: 16 }
`);
    expect(c.tasks).toEqual({ ttlMs: 600_000, pollIntervalMs: 2_500, syncWindowMs: 0, maxRunning: 16 });
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

  it("accepts full enum names and null as not set", () => {
    const c = parseConfig(
      `sessions: null\nbackends: [{ name: a, target: "http://x:1", protocol: BACKEND_PROTOCOL_CONNECT }]`,
    );
    expect(c.backends[0]?.protocol).toBe("connect");
    expect(c.sessions.idleTimeoutMs).toBe(30 * 60_000);
  });
});

/** Parses `text` as mcpengine.yaml and returns the ConfigError it must throw. */
function configError(text: string): ConfigError {
  try {
    parseConfig(text, { source: "mcpengine.yaml", env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}

const ok = `{ name: a, target: "http://x:1" }`;

describe("parseConfig errors", () => {
  it.each([
    [
      "an audience that is not a URL",
      "auth.audience",
      `auth: { issuer: "https://idp.example", audience: "api://gateway" }\nbackends: [${ok}]`,
      /absolute http\(s\) URL of this MCP resource/,
    ],
    [
      "a sub-second reload_interval",
      "reload_interval",
      `reload_interval: 0.5s\nbackends: [${ok}]`,
      /at least 1s/,
    ],
    ["a bad admin_listen", "admin_listen", `admin_listen: nope\nbackends: [${ok}]`, /host:port/],
    ["a sub-second task TTL", "tasks.ttl", `tasks: { ttl: 0.5s }\nbackends: [${ok}]`, /at least 1s/],
    [
      "a sync window as long as the task TTL",
      "tasks.sync_window",
      `tasks: { ttl: 10s, sync_window: 10s }\nbackends: [${ok}]`,
      /shorter than tasks.ttl/,
    ],
    [
      "a burst without a rate",
      "limits.per_caller.burst",
      `limits: { per_caller: { burst: 5 } }\nbackends: [${ok}]`,
      /needs requests_per_second/,
    ],
    [
      "a negative rate",
      "limits.per_session.requests_per_second",
      `limits: { per_session: { requests_per_second: -1 } }\nbackends: [${ok}]`,
      /positive number/,
    ],
    [
      "a misspelt backend key",
      "backends[0].tragets",
      `backends: [{ name: a, tragets: x }]`,
      /^unknown key \(did you mean "target"\?\)$/,
    ],
    [
      "an unknown top-level key",
      "bogus",
      `bogus: 1\nbackends: [${ok}]`,
      /^unknown key \(known here: listen, path, backends,/,
    ],
    [
      "an unknown key in a nested message",
      "sessions.idle",
      `sessions: { idle: 1s }\nbackends: [${ok}]`,
      /^unknown key/,
    ],
    [
      "an unknown key under auth.introspection",
      "auth.introspection.endpont",
      `auth: { introspection: { endpont: x } }\nbackends: [${ok}]`,
      /did you mean "endpoint"/,
    ],
    [
      "a target that is not a URL",
      "backends[1].target",
      `backends: [${ok}, { name: b, target: "127.0.0.1:1" }]`,
      /^must be an http:\/\/ \(h2c\) or https:\/\/ \(TLS\) URL, got "127.0.0.1:1"$/,
    ],
    [
      "a duplicate backend name",
      "backends[1].name",
      `backends: [${ok}, ${ok}]`,
      /^duplicate backend name "a" \(also backends\[0\]\)$/,
    ],
    ["a backend without a name", "backends[0].name", `backends: [{ target: "http://x:1" }]`, /^missing/],
    ["no backends", "backends", "backends: []", /^at least one backend is required$/],
    ["an empty file", "backends", "", /^at least one backend is required$/],
    [
      "a listen address without a port",
      "listen",
      `listen: "8080"\nbackends: [${ok}]`,
      /^must be "host:port", got "8080"$/,
    ],
    [
      "a listen port out of range",
      "listen",
      `listen: "h:65536"\nbackends: [${ok}]`,
      /^port 65536 is out of range$/,
    ],
    [
      "a listen address given as a number",
      "listen",
      `listen: 8080\nbackends: [${ok}]`,
      /^expected a string, got 8080$/,
    ],
    ["a path without a leading slash", "path", `path: mcp\nbackends: [${ok}]`, /^must start with "\/"/],
    [
      "an unknown protocol",
      "backends[0].protocol",
      `backends: [{ name: a, target: "http://x:1", protocol: carrier-pigeon }]`,
      /^expected one of grpc, connect, grpc-web, got "carrier-pigeon"$/,
    ],
    [
      "a protocol number the enum does not name",
      "backends[0].protocol",
      `backends: [{ name: a, target: "http://x:1", protocol: 9 }]`,
      /^expected one of grpc, connect, grpc-web, got 9$/,
    ],
    [
      "a timeout that is not a duration",
      "backends[0].timeout",
      `backends: [{ name: a, target: "http://x:1", timeout: soon }]`,
      /^expected a duration such as "30s" or "1.5s", got "soon"$/,
    ],
    [
      "a timeout without a unit",
      "backends[0].timeout",
      `backends: [{ name: a, target: "http://x:1", timeout: 30 }]`,
      /got 30$/,
    ],
    [
      "a zero timeout",
      "backends[0].timeout",
      `backends: [{ name: a, target: "http://x:1", timeout: 0s }]`,
      /^must be positive$/,
    ],
    [
      "a service that is not a string",
      "backends[0].services[1]",
      `backends: [{ name: a, target: "http://x:1", services: [smack.v1.S, 1] }]`,
      /^expected a string, got 1$/,
    ],
    [
      "services that are not a list",
      "backends[0].services",
      `backends: [{ name: a, target: "http://x:1", services: smack.v1.S }]`,
      /^expected a list, got "smack.v1.S"$/,
    ],
    ["backends that are a mapping", "backends", "backends: { a: 1 }", /^expected a list, got a mapping$/],
    [
      "a backend that is null",
      "backends[0]",
      "backends: [null]",
      /^expected a mapping of settings, got null$/,
    ],
    [
      "a negative max_body_bytes",
      "max_body_bytes",
      `max_body_bytes: -1\nbackends: [${ok}]`,
      /^expected a non-negative integer, got -1$/,
    ],
    [
      "a sessions list",
      "sessions",
      `sessions: []\nbackends: [${ok}]`,
      /^expected a mapping of settings, got a list$/,
    ],
    [
      "a negative idle timeout",
      "sessions.idle_timeout",
      `sessions: { idle_timeout: -1s }\nbackends: [${ok}]`,
      /^must be positive$/,
    ],
    [
      "a zero keep-alive",
      "sessions.keep_alive",
      `sessions: { keepAlive: 0s }\nbackends: [${ok}]`,
      /^must be positive$/,
    ],
    [
      "a short state key",
      "state_key",
      `state_key: c2hvcnQ=\nbackends: [${ok}]`,
      /^must be at least 32 bytes/,
    ],
    [
      "a public URL with a path",
      "public_url",
      `public_url: "https://mcp.example/x"\nbackends: [${ok}]`,
      /^must be scheme:\/\/host\[:port\]/,
    ],
    [
      "an unset environment variable",
      "backends[0].target",
      `backends: [{ name: a, target: "\${NOPE}" }]`,
      /^environment variable NOPE is not set$/,
    ],
    [
      "an identity mode without auth",
      "backends[0].identity.mode",
      `backends: [{ name: a, target: "http://x:1", identity: { mode: forward } }]`,
      /^forward needs an auth section$/,
    ],
    [
      "an auth issuer that is not a URL",
      "auth.issuer",
      `auth: { issuer: idp, audience: a }\nbackends: [${ok}]`,
      /^an http\(s\) URL is required$/,
    ],
  ])("reports %s at %s", (_what, path, text, detail) => {
    const err = configError(text);
    expect(err).toMatchObject({ code: "invalid", source: "mcpengine.yaml", path });
    expect(err.detail).toMatch(detail);
    expect(err.message).toBe(`mcpengine.yaml: ${path}: ${err.detail}`);
  });

  it.each([
    ["a document that is a list", "- a", /^expected a mapping of settings, got a list$/],
    ["text that is not YAML", "backends: [", /^not valid YAML: .*line 1, column 12$/],
  ])("reports %s for the document as a whole", (_what, text, detail) => {
    const err = configError(text);
    expect(err).toMatchObject({ code: "invalid", source: "mcpengine.yaml", path: "" });
    expect(err.detail).toMatch(detail);
    expect(err.message).toBe(`mcpengine.yaml: ${err.detail}`);
  });
});

describe("loadConfigFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-config-"));

  it("names the full path it looked for when there is no file", async () => {
    const err = await loadConfigFile(join(dir, "missing.yaml")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: "not_found", message: `${join(dir, "missing.yaml")}: no such file` });
  });

  it("tells a file it cannot read from one that is missing", async () => {
    const err = await loadConfigFile(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "unreadable", source: dir });
  });

  it("names the file as given in errors about its settings", async () => {
    const file = join(dir, "mcpengine.yaml");
    writeFileSync(file, "backends: []\n");
    const err = await loadConfigFile(file).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid", source: file, path: "backends" });
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

  const issuer = `issuer: "https://idp"`;
  it.each([
    [
      "an auth section without issuer",
      "auth.issuer",
      `auth: { audience: "https://mcp/mcp" }\n${backends}`,
      /^an http\(s\) URL is required$/,
    ],
    [
      "an auth section without audience",
      "auth.audience",
      `auth: { ${issuer} }\n${backends}`,
      /^the URL of this MCP resource is required$/,
    ],
    [
      "a symmetric algorithm",
      "auth.algorithms",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp", algorithms: [HS256] }\n${backends}`,
      /^HS256 cannot verify/,
    ],
    [
      "the none algorithm",
      "auth.algorithms",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp", algorithms: [none] }\n${backends}`,
      /^none cannot verify/,
    ],
    [
      "an unknown preset",
      "auth.preset",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp", preset: nope }\n${backends}`,
      /^unknown preset "nope" \(keycloak, okta/,
    ],
    [
      "introspection without client credentials",
      "auth.introspection",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp", introspection: {} }\n${backends}`,
      /^client_id and client_secret are required$/,
    ],
    [
      "token exchange without client credentials",
      "auth",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp" }\nbackends: [{ name: a, target: "http://x:1", identity: { mode: exchange, exchangeAudience: b } }]`,
      /^client_id and client_secret are required for token exchange \(backends\[0\]\)$/,
    ],
    [
      "token exchange without an audience",
      "backends[0].identity.exchange_audience",
      `auth: { ${issuer}, audience: "https://mcp.example/mcp" }\nbackends: [{ name: a, target: "http://x:1", identity: { mode: exchange } }]`,
      /^required for mode exchange$/,
    ],
    [
      "an unknown identity mode",
      "backends[0].identity.mode",
      `backends: [{ name: a, target: "http://x:1", identity: { mode: teleport } }]`,
      /^must be forward, exchange or none, got "teleport"$/,
    ],
  ])("reports %s at %s", (_what, path, text, detail) => {
    const err = configError(text);
    expect(err).toMatchObject({ code: "invalid", source: "mcpengine.yaml", path });
    expect(err.detail).toMatch(detail);
  });
});
