/** The authorization-server metadata fields the gateway uses (RFC 8414 §2, OIDC Discovery §3). */
export interface ServerMetadata {
  readonly issuer: string;
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
  readonly token_endpoint?: string;
}

/**
 * Fetches the issuer's metadata: OpenID Connect Discovery
 * (`{issuer}/.well-known/openid-configuration`), then RFC 8414 §3.1's
 * path-inserted `/.well-known/oauth-authorization-server{path}`. The document's
 * `issuer` must equal the configured issuer exactly (RFC 8414 §3.3).
 */
export async function discover(issuer: string, fetchFn: typeof fetch): Promise<ServerMetadata> {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, "");
  const candidates = [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
  const problems: string[] = [];
  for (const candidate of candidates) {
    let res: Response;
    try {
      res = await fetchFn(candidate, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      // undici's message is only "fetch failed"; its cause says why (ECONNREFUSED, a DNS failure…).
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
      problems.push(`${candidate}: ${(err as Error).message}${cause}`);
      continue;
    }
    if (!res.ok) {
      problems.push(`${candidate}: HTTP ${res.status}`);
      continue;
    }
    const doc: unknown = await res.json();
    if (typeof doc !== "object" || doc === null) throw new Error(`${candidate}: not a JSON object`);
    const meta = doc as Record<string, unknown>;
    if (meta.issuer !== issuer) {
      throw new Error(
        `${candidate}: issuer "${String(meta.issuer)}" does not match the configured "${issuer}"`,
      );
    }
    return {
      issuer,
      ...(typeof meta.jwks_uri === "string" ? { jwks_uri: meta.jwks_uri } : {}),
      ...(typeof meta.introspection_endpoint === "string"
        ? { introspection_endpoint: meta.introspection_endpoint }
        : {}),
      ...(typeof meta.token_endpoint === "string" ? { token_endpoint: meta.token_endpoint } : {}),
    };
  }
  throw new Error(`cannot discover the metadata of ${issuer}: ${problems.join("; ")}`);
}

/** Memoizes discovery, retrying after a failure (no failure is cached for long). */
export function createDiscovery(issuer: string, fetchFn: typeof fetch): () => Promise<ServerMetadata> {
  let pending: Promise<ServerMetadata> | undefined;
  return () => {
    pending ??= discover(issuer, fetchFn).catch((err: unknown) => {
      setTimeout(() => {
        pending = undefined;
      }, 5_000).unref();
      throw err;
    });
    return pending;
  };
}
