import { resolve } from "node:path";
import type { Backend } from "../../gen/es/mcpengine/v1/config_pb.js";
import { type BackendTls, readBackendTls } from "../invoke/backend-tls.js";
import { checkStaticHeaders, type StaticHeaders } from "../invoke/static-headers.js";

/** How the gateway connects to one backend, after defaults are applied and checked. */
export interface BackendConnection {
  /** TLS of an `https://` target, with absolute file paths; absent: the system's CAs, no client certificate. */
  readonly tls?: BackendTls;
  /** Metadata sent with every call and reflection request (lowercase names); the caller's metadata wins. */
  readonly headers: StaticHeaders;
  /** Interval of HTTP/2 keep-alive PINGs (`keepalive`); 0: none (the default). */
  readonly keepaliveMs: number;
  /** Attempts of an idempotent call failing with UNAVAILABLE (`max_attempts`, default 3; 1: no retries). */
  readonly maxAttempts: number;
}

/** A problem with one of these settings, at its key path (`backends[0].tls.ca`). */
export interface ConnectionProblem {
  readonly path: string;
  readonly detail: string;
}

/** Most attempts of one call, as gRPC's retry policy allows (gRFC A6 "maxAttempts"). */
const MAX_ATTEMPTS = 5;
const DEFAULT_ATTEMPTS = 3;

/**
 * Reads the connection settings of `backends[i]` (`at`): TLS files are
 * resolved against `baseDir` and read once here, so a missing or unusable file
 * fails at start naming its key and path (the transport reads them again when
 * it is made); static metadata names are checked; keep-alive and attempts get
 * their defaults.
 */
export function connectionSettings(
  b: Backend,
  at: string,
  baseDir: string,
): { value: BackendConnection } | { problem: ConnectionProblem } {
  let tls: BackendTls | undefined;
  if (b.tls) {
    if (!b.target.startsWith("https://")) {
      return { problem: { path: `${at}.tls`, detail: `needs an https:// target, got "${b.target}"` } };
    }
    tls = {
      ...(b.tls.ca ? { ca: resolve(baseDir, b.tls.ca) } : {}),
      ...(b.tls.cert ? { cert: resolve(baseDir, b.tls.cert) } : {}),
      ...(b.tls.key ? { key: resolve(baseDir, b.tls.key) } : {}),
      ...(b.tls.serverName ? { serverName: b.tls.serverName } : {}),
      ...(b.tls.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
    };
    const read = readBackendTls(tls);
    if ("problem" in read)
      return { problem: { path: `${at}.tls.${read.problem.key}`, detail: read.problem.detail } };
  }
  const headers = checkStaticHeaders(b.headers);
  if ("problem" in headers) {
    const { name, detail } = headers.problem;
    return { problem: { path: `${at}.headers[${JSON.stringify(name)}]`, detail } };
  }
  const keepaliveMs = b.keepalive
    ? Number(b.keepalive.seconds) * 1000 + Math.round(b.keepalive.nanos / 1e6)
    : 0;
  if (b.keepalive && keepaliveMs < 1_000) {
    return {
      problem: { path: `${at}.keepalive`, detail: "must be at least 1s (leave it out for no pings)" },
    };
  }
  const maxAttempts = b.maxAttempts || DEFAULT_ATTEMPTS;
  if (maxAttempts > MAX_ATTEMPTS) {
    return {
      problem: { path: `${at}.max_attempts`, detail: `must be at most ${MAX_ATTEMPTS}, got ${maxAttempts}` },
    };
  }
  return { value: { ...(tls ? { tls } : {}), headers: headers.value, keepaliveMs, maxAttempts } };
}
