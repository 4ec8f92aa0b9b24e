import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/index.js";
import { makeTestPki, OPENSSL } from "../support/test-ca.js";

/** The error of parsing one backend with `settings` added (YAML flow mapping entries). */
function problem(settings: string, target = "https://inv.internal:443", env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(`backends: [{ name: inv, target: "${target}", ${settings} }]`, {
      baseDir: "/etc/mcpengine",
      env,
    });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("no error");
}

describe("a backend's connection settings", () => {
  it("default to no TLS settings, no metadata, no pings and 3 attempts", () => {
    const [b] = parseConfig(`backends: [{ name: inv, target: "http://inv:50051" }]`).backends;
    expect(b).toMatchObject({ headers: {}, keepaliveMs: 0, maxAttempts: 3 });
    expect(b?.tls).toBeUndefined();
  });

  it("read headers with values from the environment, keepalive and max_attempts", () => {
    const [b] = parseConfig(
      `backends: [{ name: inv, target: "http://inv:50051", headers: { X-Team: payments, authorization: "Bearer \${TOKEN}" }, keepalive: 30s, max_attempts: 1 }]`,
      { env: { TOKEN: "t0k" } },
    ).backends;
    expect(b).toMatchObject({
      headers: { "x-team": "payments", authorization: "Bearer t0k" },
      keepaliveMs: 30_000,
      maxAttempts: 1,
    });
  });

  it.each([
    [
      'headers: { ":authority": x }',
      'backends[0].headers[":authority"]: pseudo-headers are set by HTTP/2 from the target',
    ],
    [
      "headers: { grpc-timeout: 1S }",
      'backends[0].headers["grpc-timeout"]: grpc-* names are reserved by gRPC',
    ],
    [
      "headers: { te: trailers }",
      'backends[0].headers["te"]: te is set by the HTTP/2 client or forbidden in HTTP/2',
    ],
    [
      "headers: { Content-Type: x }",
      'backends[0].headers["Content-Type"]: content-type is set by the protocol spoken to the backend',
    ],
    [
      "headers: { x-mcpengine-subject: admin }",
      'backends[0].headers["x-mcpengine-subject"]: mcpengine-* and x-mcpengine-* are set by the gateway for each call',
    ],
    ["keepalive: 0.5s", "backends[0].keepalive: must be at least 1s (leave it out for no pings)"],
    ["max_attempts: 6", "backends[0].max_attempts: must be at most 5, got 6"],
    [
      "tls: { ca: ca.pem }",
      "backends[0].tls.ca: cannot read /etc/mcpengine/ca.pem: no such file or directory (ENOENT)",
    ],
    ["tls: { cert: /x/c.pem }", "backends[0].tls.key: a client certificate needs both cert and key"],
    ["tls: { bogus: 1 }", "backends[0].tls.bogus: unknown key"],
  ])("refuse %s", (settings, message) => {
    expect(problem(settings)).toContain(`config: ${message}`);
  });

  it("refuse tls: for an http:// target", () => {
    expect(problem("tls: { server_name: inv }", "http://inv:50051")).toBe(
      'config: backends[0].tls: needs an https:// target, got "http://inv:50051"',
    );
  });

  it("name the environment variable a tls: path needs", () => {
    expect(problem(`tls: { ca: "\${CERTS}/ca.pem" }`)).toBe(
      "config: backends[0].tls.ca: environment variable CERTS is not set",
    );
  });

  it.skipIf(!OPENSSL)(
    OPENSSL
      ? "resolve tls: files against the config's folder"
      : "resolve tls: files (skipped: no openssl on PATH)",
    () => {
      const pki = makeTestPki();
      const [b] = parseConfig(
        `backends: [{ name: inv, target: "https://inv:443", tls: { ca: ca.crt, cert: client.crt, key: client.key, server_name: inv.internal } }]`,
        { baseDir: pki.dir },
      ).backends;
      expect(b?.tls).toEqual({
        ca: pki.ca,
        cert: pki.clientCert,
        key: pki.clientKey,
        serverName: "inv.internal",
      });
    },
  );
});
