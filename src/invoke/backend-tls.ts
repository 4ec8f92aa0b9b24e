import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";

/** TLS towards one backend as configured (`backends[].tls`): PEM files, absolute paths once the config is read. */
export interface BackendTls {
  /** CA certificates trusted instead of the system's. */
  readonly ca?: string;
  /** Client certificate chain (mTLS); goes with `key`. */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
  /** Name sent as SNI and verified in the backend's certificate instead of the target's host. */
  readonly serverName?: string;
  /** Accept any certificate; for tests only. */
  readonly insecureSkipVerify?: boolean;
}

/** The part of Node's `tls.connect` options (under `http2.connect` and `https.request`) a {@link BackendTls} sets. */
export interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

/** What is wrong with one setting of a {@link BackendTls}, `key` naming it as in the config file. */
export interface TlsProblem {
  readonly key: "ca" | "cert" | "key";
  readonly detail: string;
}

/**
 * Reads the files of `tls` and checks that Node can use them: each readable,
 * the CA file made of PEM certificates, the key matching the certificate.
 * Never throws: the config loader reports the problem at its key, the
 * transport throws it.
 */
export function readBackendTls(tls: BackendTls): { value: TlsConnectOptions } | { problem: TlsProblem } {
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    return {
      problem: {
        key: tls.cert ? "key" : "cert",
        detail: "a client certificate needs both cert and key",
      },
    };
  }
  const value: TlsConnectOptions = { rejectUnauthorized: !tls.insecureSkipVerify };
  for (const key of ["ca", "cert", "key"] as const) {
    const path = tls[key];
    if (!path) continue;
    try {
      value[key] = readFileSync(path);
    } catch (err) {
      return { problem: { key, detail: `cannot read ${path}: ${reasonOf(err)}` } };
    }
  }
  if (tls.serverName) value.servername = tls.serverName;
  // Node takes any bytes as `ca` and then trusts nothing; say so now, not at the first call.
  if (value.ca) {
    const blocks = value.ca.toString("latin1").match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) return { problem: { key: "ca", detail: `${tls.ca} holds no PEM certificate` } };
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (err) {
        return {
          problem: {
            key: "ca",
            detail: `${tls.ca} holds a certificate that does not parse: ${reasonOf(err)}`,
          },
        };
      }
    }
  }
  if (value.cert && value.key) {
    try {
      createSecureContext({ cert: value.cert, key: value.key });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const key = code === "ERR_OSSL_PEM_NO_START_LINE" ? "cert" : "key";
      const detail =
        code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH"
          ? `${tls.key} is not the private key of the certificate in ${tls.cert}`
          : `${key === "cert" ? tls.cert : tls.key} is not usable: ${reasonOf(err)}`;
      return { problem: { key, detail } };
    }
  }
  return { value };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * What a failed TLS handshake means for the operator, by the error's code: the
 * OpenSSL reason and, for the usual mistakes, which setting to change. Other
 * errors come back as their message; `undefined` says the error is not TLS.
 */
export function describeTlsError(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const hint = TLS_HINTS[code];
  const reason = (err as { reason?: unknown }).reason;
  const why = typeof reason === "string" && reason ? reason : err.message;
  if (hint) return `TLS: ${why} (${hint})`;
  if (/^ERR_(SSL|TLS|OSSL)_/.test(code) || CERTIFICATE_CODES.has(code)) return `TLS: ${why}`;
  return undefined;
}

const CA_HINT = "the backend's certificate is not signed by a CA the gateway trusts: set tls.ca";

/** The usual TLS mistakes and the setting that fixes each. */
const TLS_HINTS: { readonly [code: string]: string } = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    "the backend requires a client certificate: set tls.cert and tls.key",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA:
    "the backend does not trust the issuer of the client certificate (tls.cert)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the backend refused the client certificate (tls.cert)",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the backend refused the client certificate as expired (tls.cert)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: CA_HINT,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: CA_HINT,
  SELF_SIGNED_CERT_IN_CHAIN: CA_HINT,
  DEPTH_ZERO_SELF_SIGNED_CERT: CA_HINT,
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the backend's certificate is not for this host: set tls.server_name to a name it holds",
  CERT_HAS_EXPIRED: "the backend's certificate has expired",
  CERT_NOT_YET_VALID: "the backend's certificate is not valid yet",
  ERR_SSL_WRONG_VERSION_NUMBER:
    "the backend does not speak TLS on this port: an h2c backend needs an http:// target",
  ERR_SSL_PACKET_LENGTH_TOO_LONG:
    "the backend does not speak TLS on this port: an h2c backend needs an http:// target",
};

/** Certificate verification failures (OpenSSL's X509_V_ERR_* names, as Node reports them). */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "HOSTNAME_MISMATCH",
]);

function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException & { reason?: unknown };
  if (typeof e.reason === "string" && e.reason) return e.reason;
  // fs errors read "ENOENT: no such file or directory, open '/x'": the path is said already.
  if (e.syscall && e.code) return `${e.message.split(",")[0]?.replace(`${e.code}: `, "")} (${e.code})`;
  return e.message;
}
