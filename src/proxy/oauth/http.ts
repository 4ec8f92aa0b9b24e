import { allowInsecureRequests, customFetch, type HttpRequestOptions } from "oauth4webapi";

/** How long one request to an authorization server or for metadata may take. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** The transport the OAuth client uses: a `fetch` (tests pass their own). */
export interface Http {
  readonly fetch: typeof fetch;
}

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Whether `url` points at this machine (RFC 8252 §7.3 loopback). */
export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/**
 * oauth4webapi request options for requests concerning `target` (an issuer or
 * resource URL): our `fetch`, a timeout, and plain HTTP only when `target` is a
 * loopback host — local development and tests. Everything else must be HTTPS
 * (OAuth 2.1 §1.5; MCP authorization, "Communication Security").
 */
export function requestOptions<Method, Body>(
  http: Http,
  target: URL | string,
): HttpRequestOptions<Method, Body> {
  const url = typeof target === "string" ? parseUrl(target) : target;
  return {
    signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    [customFetch]: (input, init) => http.fetch(input, init as RequestInit),
    // oauth4webapi keeps this switch behind a symbol so it stands out; so do we.
    [allowInsecureRequests]: url !== undefined && url.protocol === "http:" && isLoopback(url),
  };
}

/** A plain GET for JSON metadata, with the same transport rules as {@link requestOptions}. */
export async function getJson(http: Http, url: URL): Promise<Response> {
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) {
    throw new Error(`refusing to fetch ${url.href}: only https (or http to this machine) is allowed`);
  }
  return http.fetch(url, {
    headers: { accept: "application/json" },
    redirect: "manual",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** `new URL(text)`, or undefined for text that is not an absolute URL. */
export function parseUrl(text: string, base?: URL): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}
