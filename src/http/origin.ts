import type { IncomingMessage } from "node:http";

/** Host names a loopback-bound gateway answers to. */
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Decides which Host and Origin headers are acceptable. */
export interface OriginPolicy {
  /** Reports why a request must be refused, or undefined when it is acceptable. */
  check(req: IncomingMessage): string | undefined;
}

/**
 * DNS-rebinding protection (MCP 2025-11-25 basic/transports "Security
 * Warning"): servers MUST validate `Origin`. A gateway bound to loopback only
 * answers requests whose Host and Origin name a loopback host (any port); one
 * bound elsewhere checks against `allowedHosts` when set. A browser page on
 * another origin is refused either way unless listed in `allowedOrigins`.
 */
export function createOriginPolicy(options: {
  readonly bindHost: string;
  readonly allowedHosts?: readonly string[];
  readonly allowedOrigins?: readonly string[];
}): OriginPolicy {
  const loopback = isLoopback(options.bindHost);
  const hosts = new Set(
    (options.allowedHosts?.length ? options.allowedHosts : loopback ? LOOPBACK_NAMES : []).map((h) =>
      h.toLowerCase(),
    ),
  );
  const origins = new Set((options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, "")));
  return {
    check(req) {
      const host = req.headers.host;
      if (hosts.size > 0 && (!host || !hosts.has(hostName(host))))
        return `Host "${host ?? ""}" is not allowed`;
      const origin = req.headers.origin;
      if (origin === undefined) return undefined;
      const o = origin.toLowerCase();
      if (origins.has(o)) return undefined;
      let originHost: string;
      try {
        originHost = new URL(o).host;
      } catch {
        return `Origin "${origin}" is not allowed`;
      }
      if (hosts.size > 0 ? hosts.has(hostName(originHost)) : originHost === host?.toLowerCase())
        return undefined;
      return `Origin "${origin}" is not allowed`;
    },
  };
}

/** The host name of a Host header value, without port (IPv6 kept in brackets). */
function hostName(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "::1" || host === "[::1]";
}
