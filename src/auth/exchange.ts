/** What a token exchange needs (RFC 8693 §2.1). */
export interface ExchangeOptions {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The target backend's audience / resource. */
  readonly audience: string;
  readonly scopes?: readonly string[];
}

/** Exchanges a caller's token for one meant for a backend, caching results until shortly before expiry. */
export interface TokenExchanger {
  exchange(subjectToken: string): Promise<string>;
}

/**
 * RFC 8693 token exchange: the gateway presents the caller's access token as
 * `subject_token` and receives one whose audience is the backend, so the
 * caller's token never leaves for a service it was not issued to.
 */
export function createTokenExchanger(
  options: ExchangeOptions,
  fetchFn: typeof fetch = fetch,
  now: () => number = Date.now,
): TokenExchanger {
  const cache = new Map<string, { token: string; until: number }>();
  const MAX = 10_000;
  return {
    async exchange(subjectToken) {
      const hit = cache.get(subjectToken);
      if (hit && hit.until > now()) return hit.token;
      const body = new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: subjectToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
        audience: options.audience,
        resource: options.audience,
      });
      if (options.scopes && options.scopes.length > 0) body.set("scope", options.scopes.join(" "));
      const basic = Buffer.from(
        `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
      ).toString("base64");
      const res = await fetchFn(options.tokenEndpoint, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok || typeof json.access_token !== "string") {
        throw new Error(`token exchange for ${options.audience} failed: ${String(json.error ?? res.status)}`);
      }
      const expiresIn = typeof json.expires_in === "number" ? json.expires_in : 300;
      // Renew 30 s early so a cached token never expires in flight.
      if (cache.size >= MAX) cache.clear();
      cache.set(subjectToken, {
        token: json.access_token,
        until: now() + Math.max(0, expiresIn - 30) * 1000,
      });
      return json.access_token;
    },
  };
}
