import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeTlsError } from "../../src/invoke/backend-tls.js";
import { readBackendTls } from "../../src/invoke/index.js";
import { makeTestPki, OPENSSL } from "../support/test-ca.js";

describe("reading a backend's TLS files", () => {
  it("names a file that cannot be read", () => {
    expect(readBackendTls({ ca: "/nonexistent/ca.pem" })).toEqual({
      problem: { key: "ca", detail: "cannot read /nonexistent/ca.pem: no such file or directory (ENOENT)" },
    });
  });

  it("wants cert and key together", () => {
    expect(readBackendTls({ cert: "/x/client.crt" })).toEqual({
      problem: { key: "key", detail: "a client certificate needs both cert and key" },
    });
    expect(readBackendTls({ key: "/x/client.key" })).toEqual({
      problem: { key: "cert", detail: "a client certificate needs both cert and key" },
    });
  });

  it("takes no files at all: the system's CAs, verification on", () => {
    expect(readBackendTls({})).toEqual({ value: { rejectUnauthorized: true } });
    expect(readBackendTls({ serverName: "inv.internal", insecureSkipVerify: true })).toEqual({
      value: { rejectUnauthorized: false, servername: "inv.internal" },
    });
  });

  describe.skipIf(!OPENSSL)(
    OPENSSL ? "with a test CA" : "with a test CA (skipped: no openssl on PATH)",
    () => {
      const pki = OPENSSL ? makeTestPki() : undefined;

      it("reads a CA, a client certificate and its key", () => {
        if (!pki) return;
        const read = readBackendTls({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
        expect(read).toEqual({
          value: {
            ca: pki.read(pki.ca),
            cert: pki.read(pki.clientCert),
            key: pki.read(pki.clientKey),
            rejectUnauthorized: true,
          },
        });
      });

      it("refuses a CA file without a PEM certificate, which Node would take and then trust nothing", () => {
        if (!pki) return;
        expect(readBackendTls({ ca: pki.clientKey })).toEqual({
          problem: { key: "ca", detail: `${pki.clientKey} holds no PEM certificate` },
        });
      });

      it("refuses a key that is not the certificate's", () => {
        if (!pki) return;
        expect(readBackendTls({ cert: pki.clientCert, key: pki.serverKey })).toEqual({
          problem: {
            key: "key",
            detail: `${pki.serverKey} is not the private key of the certificate in ${pki.clientCert}`,
          },
        });
      });

      it("refuses a certificate file that is not PEM", () => {
        if (!pki) return;
        const junk = join(pki.dir, "junk.crt");
        writeFileSync(junk, "not a certificate");
        expect(readBackendTls({ cert: junk, key: pki.clientKey })).toMatchObject({
          problem: { key: "cert", detail: expect.stringContaining(`${junk} is not usable`) },
        });
      });
    },
  );
});

describe("a failed TLS handshake, as the operator reads it", () => {
  const tlsError = (code: string, message: string, reason?: string) =>
    Object.assign(new Error(message), { code, ...(reason ? { reason } : {}) });

  it.each([
    [
      tlsError(
        "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "8…:error:0A00045C:SSL routines…",
        "tlsv13 alert certificate required",
      ),
      "TLS: tlsv13 alert certificate required (the backend requires a client certificate: set tls.cert and tls.key)",
    ],
    [
      tlsError("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "…", "tlsv1 alert unknown ca"),
      "TLS: tlsv1 alert unknown ca (the backend does not trust the issuer of the client certificate (tls.cert))",
    ],
    [
      tlsError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"),
      "TLS: self-signed certificate in certificate chain (the backend's certificate is not signed by a CA the gateway trusts: set tls.ca)",
    ],
    [
      tlsError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
      "TLS: unable to verify the first certificate (the backend's certificate is not signed by a CA the gateway trusts: set tls.ca)",
    ],
    [
      tlsError("ERR_TLS_CERT_ALTNAME_INVALID", "Host: x. is not in the cert's altnames: DNS:y"),
      "TLS: Host: x. is not in the cert's altnames: DNS:y (the backend's certificate is not for this host: set tls.server_name to a name it holds)",
    ],
    [
      tlsError("CERT_HAS_EXPIRED", "certificate has expired"),
      "TLS: certificate has expired (the backend's certificate has expired)",
    ],
    [
      tlsError("ERR_SSL_WRONG_VERSION_NUMBER", "…", "wrong version number"),
      "TLS: wrong version number (the backend does not speak TLS on this port: an h2c backend needs an http:// target)",
    ],
    [tlsError("ERR_SSL_DECRYPTION_FAILED", "…", "decryption failed"), "TLS: decryption failed"],
    [tlsError("CERT_REVOKED", "certificate revoked"), "TLS: certificate revoked"],
  ])("%s", (err, text) => {
    expect(describeTlsError(err)).toBe(text);
  });

  it("leaves errors that are not TLS alone", () => {
    expect(describeTlsError(tlsError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"))).toBeUndefined();
    expect(describeTlsError(new Error("no HTTP/2 connection within 20000 ms"))).toBeUndefined();
  });
});
