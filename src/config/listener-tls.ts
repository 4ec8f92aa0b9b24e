import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import type { ListenerTls } from "../../gen/es/mcpengine/v1/config_pb.js";

/** The listener's certificate and key (`tls`), read from their PEM files. */
export interface ListenerTlsSettings {
  /** Absolute path of the certificate chain, for messages. */
  readonly certPath: string;
  /** Absolute path of the private key, for messages. */
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A problem with the `tls` section, at a key path under it. */
export interface ListenerTlsProblem {
  readonly path: string;
  readonly detail: string;
}

/**
 * Reads the `tls` section: both files are read now, and must form a pair
 * Node's TLS accepts, so a missing file or a key of another certificate fails
 * at start naming the file rather than on the first connection. Relative paths
 * resolve against `baseDir` (the configuration file's folder). Messages never
 * quote the key's contents.
 */
export function listenerTlsSettings(
  tls: ListenerTls | undefined,
  baseDir: string,
): { value: ListenerTlsSettings | undefined } | { problem: ListenerTlsProblem } {
  if (!tls) return { value: undefined };
  if (!tls.cert) return { problem: { path: "tls.cert", detail: "required: the path of a PEM certificate" } };
  if (!tls.key) return { problem: { path: "tls.key", detail: "required: the path of a PEM private key" } };
  const certPath = resolve(baseDir, tls.cert);
  const keyPath = resolve(baseDir, tls.key);
  const cert = readPem(certPath, "tls.cert");
  if ("problem" in cert) return cert;
  const key = readPem(keyPath, "tls.key");
  if ("problem" in key) return key;
  try {
    createSecureContext({ cert: cert.value, key: key.value });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      problem: {
        path: "tls",
        detail: `${certPath} and ${keyPath} are not a usable certificate and key: ${why}`,
      },
    };
  }
  return { value: { certPath, keyPath, cert: cert.value, key: key.value } };
}

function readPem(path: string, at: string): { value: Buffer } | { problem: ListenerTlsProblem } {
  try {
    return { value: readFileSync(path) };
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String(err.code) : "";
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a folder"
            : err instanceof Error
              ? err.message
              : String(err);
    return { problem: { path: at, detail: `cannot read ${path}: ${why}` } };
  }
}
