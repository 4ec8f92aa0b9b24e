import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/index.js";
import { createLogger, REDACTED, redactText } from "../../src/observe/index.js";
import { closedPort, PLANTED_JWT, startRig } from "./rig.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
/** The part of the planted token no redaction may leave behind. */
const SIGNATURE = PLANTED_JWT.split(".")[2] as string;

describe("redactText", () => {
  it.each([
    ["a JWT alone", PLANTED_JWT, REDACTED],
    ["a JWT inside a sentence", `bad token ${PLANTED_JWT}, try again`, `bad token ${REDACTED}, try again`],
    ["a bearer credential", "Authorization: Bearer abcdefghijklmnop", `Authorization: Bearer ${REDACTED}`],
    ["basic credentials", "basic   dXNlcjpwYXNzd29yZA==", `basic   ${REDACTED}`],
    [
      "a form's client_secret",
      "client_id=a&client_secret=s3cr3t&x=1",
      `client_id=a&client_secret=${REDACTED}&x=1`,
    ],
    ["JSON's client_secret", '{"client_secret":"s3cr3t"}', `{"client_secret":"${REDACTED}"}`],
    [
      "escaped JSON's access_token",
      '{\\"access_token\\":\\"abc\\"}',
      `{\\"access_token\\":\\"${REDACTED}\\"}`,
    ],
    ["YAML's password", "password: hunter2", `password: ${REDACTED}`],
    ["a query's token", "/cb?token=abc123&state=x", `/cb?token=${REDACTED}&state=x`],
    ["text without credentials", "backend inv is not ready (connect ECONNREFUSED)", null],
    ["words near credentials", "the token could not be verified", null],
  ])("rewrites %s", (_, text, expected) => {
    expect(redactText(text)).toBe(expected ?? text);
  });
});

describe("a planted token", () => {
  it("is in no log line when sent in headers, quoted by a backend, or used as a request id or tool name", async () => {
    const rig = await startRig({ level: "trace" });
    try {
      const headers = {
        authorization: `Bearer ${PLANTED_JWT}`,
        cookie: `session=${PLANTED_JWT}`,
        "x-api-key": PLANTED_JWT,
      };
      // The backend's error message quotes the token (logged as a backend failure and in the line's error).
      const down = { name: "inv_get_http_item", arguments: { sku: "down" } };
      await (await rig.call(1, "tools/call", down, headers)).text();
      // The client chose the token as its request id and as a tool name.
      const r = await fetch(`${rig.base}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": PLANTED_JWT,
          ...headers,
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: PLANTED_JWT,
          method: "tools/call",
          params: {
            name: PLANTED_JWT,
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {},
            },
          },
        }),
      });
      await r.text();
      const lines = rig.lines();
      expect(lines.some((l) => l.msg === "backend call failed")).toBe(true);
      expect(lines.filter((l) => l.msg === "mcp request")).toHaveLength(2);
      expect(rig.raw.filter((l) => l.includes(SIGNATURE))).toEqual([]);
      expect(rig.raw.join("")).toContain(REDACTED);
    } finally {
      await rig.close();
    }
  });

  it("is in no log line when the identity provider fails on it", async () => {
    const rig = await startRig({
      config: {
        auth: {
          issuer: "http://idp.test",
          audience: "http://gateway.test/mcp",
          jwksUri: `http://127.0.0.1:${await closedPort()}/jwks`,
        },
      },
    });
    try {
      const res = await rig.call(1, "tools/list", {}, { authorization: `Bearer ${PLANTED_JWT}` });
      expect(res.status).toBe(401);
      await res.text();
      expect(rig.lines().some((l) => l.msg.startsWith("identity provider failure"))).toBe(true);
      expect(rig.raw.filter((l) => l.includes(SIGNATURE))).toEqual([]);
    } finally {
      await rig.close();
    }
  });

  it("is in no log line of headers, secrets and errors logged as objects", () => {
    const raw: string[] = [];
    const logger = createLogger({ level: "trace", sink: { write: (l) => raw.push(l) } });
    logger.info(
      { headers: { authorization: "Bearer opaque-1234567890", cookie: "sid=opaque-cookie" } },
      "in",
    );
    logger.info({ req: { headers: { "set-cookie": "sid=opaque-cookie" } } }, "out");
    logger.info({ auth: { client_secret: "opaque-secret", clientSecret: "opaque-secret" } }, "config");
    logger.error({ err: new Error(`upstream said ${PLANTED_JWT}`) }, "failed");
    logger.warn(new Error(`thrown with ${PLANTED_JWT}`));
    const text = raw.join("");
    for (const secret of [SIGNATURE, "opaque-1234567890", "opaque-cookie", "opaque-secret"]) {
      expect(text).not.toContain(secret);
    }
    expect(raw).toHaveLength(5);
  });

  it("is in no log line when a configuration error quotes it", () => {
    let error: unknown;
    try {
      parseConfig(JSON.stringify({ listen: PLANTED_JWT, backends: [{ name: "a", target: "http://x:1" }] }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(PLANTED_JWT);
    const raw: string[] = [];
    createLogger({ sink: { write: (l) => raw.push(l) } }).error({ err: error }, "bad configuration");
    expect(raw.join("")).not.toContain(SIGNATURE);
    expect(raw.join("")).toContain(`listen: must be \\"host:port\\", got \\"${REDACTED}\\"`);
  });

  it("is not printed by mcpengine serve when its configuration quotes it", () => {
    const dir = mkdtempSync(join(tmpdir(), "mcpengine-redact-"));
    const file = join(dir, "mcpengine.yaml");
    writeFileSync(
      file,
      `listen: "${PLANTED_JWT}"\nbackends:\n  - name: a\n    target: "http://127.0.0.1:1"\n`,
    );
    const out = spawnSync(process.execPath, [BIN, "serve", "--config", file], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain(`listen: must be "host:port", got "${REDACTED}"`);
    expect(out.stderr + out.stdout).not.toContain(SIGNATURE);
  });
});
