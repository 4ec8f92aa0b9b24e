import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { type InteropBackend, startGrpcJsBackend } from "../support/interop/node-backends.js";

/** Node cannot make certificates; the openssl command line can. */
const OPENSSL = spawnSync("openssl", ["version"]).status === 0;

/** A self-signed certificate for 127.0.0.1 and its key, as files in a new folder. */
function selfSigned(dir: string, name: string): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      join(dir, `${name}.crt`),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
}

/** One HTTPS request trusting `ca` (or nothing but the system's roots). */
function httpsRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer | string },
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? "GET", headers: init.headers ?? {}, ...(init.ca ? { ca: init.ca } : {}) },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

describe.skipIf(!OPENSSL)("HTTPS on the listener (needs the openssl command)", () => {
  let dir: string;
  let backend: InteropBackend;
  let gateway: Gateway;
  let http: HttpListener;
  let ca: string;

  const config = (tls: object, env: NodeJS.ProcessEnv = {}) =>
    parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        tls,
        backends: [{ name: "interop", target: backend.url, descriptors: "reflection" }],
      }),
      { baseDir: dir, source: "mcpengine.yaml", env },
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mcpengine-tls-"));
    selfSigned(dir, "gateway");
    selfSigned(dir, "other");
    backend = await startGrpcJsBackend();
    ca = readFileSync(join(dir, "gateway.crt"), "utf8");
    // The certificate's path comes from the environment (`${TLS_CERT}`), the key's is relative.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration's own ${ENV} syntax
    const cert = "${TLS_CERT}";
    gateway = await createGateway(
      config({ cert, key: "gateway.key" }, { TLS_CERT: join(dir, "gateway.crt") }),
    );
    http = await gateway.listen();
  });
  afterAll(async () => {
    await http?.close();
    await backend?.close();
  });

  it("serves HTTPS on the listen address: health, readiness and MCP", async () => {
    expect(http.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpsRequest(`${http.url}/healthz`, { ca })).toMatchObject({ status: 200, text: "ok\n" });
    const ready = await httpsRequest(`${http.url}/readyz`, { ca });
    expect(ready.status).toBe(200);
    const init = await httpsRequest(`${http.url}/mcp`, {
      ca,
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "tls", version: "1" },
        },
      }),
    });
    expect(init.status).toBe(200);
    expect(JSON.parse(init.text).result.protocolVersion).toBe("2025-11-25");
    expect(init.headers["mcp-session-id"]).toBeTypeOf("string");
  });

  it("is TLS indeed: a client that does not trust the certificate is refused, plain HTTP gets no answer", async () => {
    await expect(httpsRequest(`${http.url}/healthz`, {})).rejects.toThrow(/self-signed certificate/);
    const plain = await fetch(`${http.url.replace("https:", "http:")}/healthz`).then(
      (r) => r.status,
      () => "failed",
    );
    expect(plain).toBe("failed");
  });

  it("names a missing certificate file in the configuration error", () => {
    expect(() => config({ cert: "missing.crt", key: "gateway.key" })).toThrow(
      `mcpengine.yaml: tls.cert: cannot read ${join(dir, "missing.crt")}: no such file`,
    );
    expect(() => config({ cert: "gateway.crt", key: "gone.key" })).toThrow(
      `mcpengine.yaml: tls.key: cannot read ${join(dir, "gone.key")}: no such file`,
    );
    expect(() => config({ cert: "gateway.crt" })).toThrow(
      "mcpengine.yaml: tls.key: required: the path of a PEM private key",
    );
  });

  it("refuses a key that is not the certificate's", () => {
    expect(() => config({ cert: "gateway.crt", key: "other.key" })).toThrow(
      new RegExp(
        `^mcpengine\\.yaml: tls: ${join(dir, "gateway.crt")} and ${join(dir, "other.key")} are not a usable certificate and key: .*key values mismatch`,
      ),
    );
  });
});
