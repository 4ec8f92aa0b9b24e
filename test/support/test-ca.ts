import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether the `openssl` command is on PATH (the TLS tests make their certificates with it). */
export const OPENSSL = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Paths of a throwaway PKI, all PEM. */
export interface TestPki {
  readonly dir: string;
  /** The CA that signed the server and client certificates. */
  readonly ca: string;
  /** The server's certificate, for `backend.test`, `localhost` and 127.0.0.1. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate (extendedKeyUsage clientAuth) signed by `ca`. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate signed by another CA, which the server does not trust. */
  readonly strangerCert: string;
  readonly strangerKey: string;
  read(path: string): Buffer;
}

/** Makes a CA, a server certificate and client certificates with `openssl` (P-256 keys, valid one day). */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-pki-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const ca = (name: string, cn: string) =>
    openssl(
      "req",
      "-x509",
      ...key,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
    );
  const leaf = (name: string, cn: string, issuer: string, ext: string) => {
    writeFileSync(at(`${name}.ext`), `${ext}\n`);
    openssl("req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.crt`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  ca("ca", "MCPEngine test CA");
  ca("stranger-ca", "Someone else's CA");
  leaf("server", "backend.test", "ca", "subjectAltName=DNS:backend.test,DNS:localhost,IP:127.0.0.1");
  leaf("client", "gateway", "ca", "extendedKeyUsage=clientAuth");
  leaf("stranger", "gateway", "stranger-ca", "extendedKeyUsage=clientAuth");
  return {
    dir,
    ca: at("ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    clientCert: at("client.crt"),
    clientKey: at("client.key"),
    strangerCert: at("stranger.crt"),
    strangerKey: at("stranger.key"),
    read: (path) => readFileSync(path),
  };
}
