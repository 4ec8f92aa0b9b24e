import type { Interceptor } from "@connectrpc/connect";

/** Metadata sent with every call to one backend (`backends[].headers`): lowercase names, checked values. */
export type StaticHeaders = { readonly [name: string]: string };

/** A name or value of `headers:` that cannot be sent, and why. */
export interface HeaderProblem {
  /** The name as written in the config. */
  readonly name: string;
  readonly detail: string;
}

/**
 * Checks a backend's static metadata and returns it with lowercase names (HTTP/2
 * sends nothing else, RFC 9113 §8.2.1). Refused, each with the reason:
 * - names that are not gRPC metadata names (PROTOCOL-HTTP2 "Header-Name": 0-9 a-z _ - .);
 * - pseudo-headers and HTTP/2's connection-specific headers, which the client
 *   sets or HTTP/2 forbids (RFC 9113 §8.2.2), and `content-type`;
 * - `grpc-*`, reserved by gRPC for the protocol itself;
 * - `mcpengine-*` and `x-mcpengine-*`, which the gateway sets per call (request
 *   ids, input answers, the caller's subject and claims): a backend must be able
 *   to trust that they come from the caller's request;
 * - values that are not printable ASCII, or not base64 for a `-bin` name.
 */
export function checkStaticHeaders(
  headers: { readonly [name: string]: string } | undefined,
): { value: StaticHeaders } | { problem: HeaderProblem } {
  const value: { [name: string]: string } = {};
  for (const [name, v] of Object.entries(headers ?? {})) {
    const key = name.toLowerCase();
    const reserved = reservedBecause(key);
    if (reserved) return { problem: { name, detail: reserved } };
    if (!/^[0-9a-z_.-]+$/.test(key)) {
      return { problem: { name, detail: "not a gRPC metadata name (letters, digits, _ - . only)" } };
    }
    if (key in value) return { problem: { name, detail: "given twice (names are not case-sensitive)" } };
    if (key.endsWith("-bin") ? !/^[A-Za-z0-9+/]*={0,2}$/.test(v) : !/^[\x20-\x7e]*$/.test(v)) {
      return {
        problem: {
          name,
          detail: key.endsWith("-bin")
            ? "the value of a -bin name must be base64"
            : "the value must be printable ASCII (use a -bin name with base64 for anything else)",
        },
      };
    }
    value[key] = v;
  }
  return { value };
}

/** Headers HTTP/2 forbids from requests or sets itself (RFC 9113 §8.2.2, §8.3.1). */
const CONNECTION_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
  "te",
]);

function reservedBecause(key: string): string | undefined {
  if (key.startsWith(":")) return "pseudo-headers are set by HTTP/2 from the target";
  if (CONNECTION_HEADERS.has(key)) return `${key} is set by the HTTP/2 client or forbidden in HTTP/2`;
  if (key === "content-type") return "content-type is set by the protocol spoken to the backend";
  if (key.startsWith("grpc-")) return "grpc-* names are reserved by gRPC";
  if (key.startsWith("mcpengine-") || key.startsWith("x-mcpengine-")) {
    return "mcpengine-* and x-mcpengine-* are set by the gateway for each call";
  }
  return undefined;
}

/**
 * A Connect interceptor adding `headers` to every request that does not carry
 * the name already: the caller's metadata wins, as in the gateway's own client.
 */
export function staticHeadersInterceptor(headers: StaticHeaders): Interceptor {
  const entries = Object.entries(headers);
  return (next) => (req) => {
    for (const [name, value] of entries) if (!req.header.has(name)) req.header.set(name, value);
    return next(req);
  };
}
