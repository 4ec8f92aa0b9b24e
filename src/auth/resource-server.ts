import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from "jose";
import { createChallenges } from "./challenge.js";
import { createDiscovery } from "./discovery.js";
import { introspect } from "./introspection.js";
import { metadataDocument, metadataLocation } from "./metadata.js";
import { TokenCache } from "./token-cache.js";
import type { AuthFailure, AuthResult, AuthSettings, Identity } from "./types.js";

/** The gateway as an OAuth 2.1 resource server (MCP authorization, RFC 6750, RFC 9068, RFC 9728). */
export interface ResourceServer {
  /**
   * Validates the `Authorization` header; tokens are taken from nowhere else
   * (RFC 6750 §2.1). Answers synchronously when it can (a malformed header, a
   * token verified before), so the common case costs no promise.
   */
  authenticate(authorization: string | undefined): AuthResult | Promise<AuthResult>;
  /** The 403 refusal naming the scopes an operation needs (RFC 6750 §3.1, step-up). */
  insufficientScope(required: readonly string[]): AuthFailure;
  /** The RFC 9728 metadata document. */
  metadata(): Record<string, unknown>;
  /** Paths that serve the metadata document. */
  readonly metadataPaths: readonly string[];
  /** Absolute URL of the metadata document, as sent in challenges. */
  readonly metadataUrl: string;
  /** Counters for tests and metrics. */
  stats(): { verified: number; cacheHits: number; introspected: number };
  /**
   * For readiness probes: whether the IdP's signing keys were fetched at
   * least once (fetching them now if not); with introspection only, whether
   * its endpoint is known. Never throws.
   */
  ready(): Promise<{ ok: boolean; detail: string }>;
}

/** Options of {@link createResourceServer}. */
export interface ResourceServerOptions {
  /** Public origin of the gateway (for the metadata URL). Default: the audience's origin. */
  readonly publicUrl?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Creates the resource server: JWT access tokens through JWKS, opaque ones through introspection. */
export function createResourceServer(
  settings: AuthSettings,
  options: ResourceServerOptions = {},
): ResourceServer {
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const location = metadataLocation(settings.audience, options.publicUrl ?? settings.audience);
  const challenges = createChallenges(location.url, settings.scopesSupported);
  const cache = new TokenCache(settings.cacheSize, now);
  const discovery = createDiscovery(settings.issuer, fetchFn);
  const counters = { verified: 0, cacheHits: 0, introspected: 0 };
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  /**
   * The issuer's key set, built once: concurrent first requests share one
   * discovery and one set (whose first fetch jose shares among its callers);
   * a failed discovery is forgotten so that a later request tries again.
   */
  function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    jwks ??= (async () => {
      const uri = settings.jwksUri ?? (await discovery()).jwks_uri;
      if (!uri) throw new Error(`the issuer ${settings.issuer} publishes no jwks_uri`);
      return createRemoteJWKSet(new URL(uri), {
        cooldownDuration: settings.jwksCooldownMs,
        cacheMaxAge: 10 * 60_000,
        [customFetch]: fetchFn,
      });
    })();
    jwks.catch(() => {
      jwks = undefined;
    });
    return jwks;
  }

  function identityFrom(payload: JWTPayload | Record<string, unknown>, token: string): Identity | string {
    const subject = typeof payload.sub === "string" ? payload.sub : payload.client_id;
    if (typeof subject !== "string" || subject === "") return "the token names no subject";
    const scopes = new Set<string>();
    for (const claim of settings.scopeClaims) {
      const v = payload[claim];
      if (typeof v === "string") for (const s of v.split(" ")) if (s) scopes.add(s);
      if (Array.isArray(v)) for (const s of v) if (typeof s === "string") scopes.add(s);
    }
    const exp = typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
    return { subject, scopes, claims: payload, token, ...(exp !== undefined ? { expiresAt: exp } : {}) };
  }

  async function verifyJwt(token: string): Promise<AuthResult> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, await keySet(), {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: [...settings.algorithms],
        clockTolerance: settings.clockSkewSeconds,
        requiredClaims: ["exp"],
        currentDate: new Date(now()),
        ...(settings.requireTyp ? { typ: "at+jwt" } : {}),
      });
      payload = result.payload;
    } catch (err) {
      return challenges.invalidToken(describeJoseError(err));
    }
    // RFC 7519 §4.1.6: a token issued in the future (beyond the allowed skew) is not yet valid.
    if (typeof payload.iat === "number" && payload.iat > now() / 1000 + settings.clockSkewSeconds) {
      return challenges.invalidToken("the token was issued in the future (iat)");
    }
    counters.verified++;
    const identity = identityFrom(payload, token);
    if (typeof identity === "string") return challenges.invalidToken(identity);
    return { ok: true, identity };
  }

  async function viaIntrospection(token: string): Promise<AuthResult> {
    const cfg = settings.introspection;
    if (!cfg)
      return challenges.invalidToken("opaque tokens are not accepted; a JWT access token is required");
    const endpoint = cfg.endpoint ?? (await discovery()).introspection_endpoint;
    if (!endpoint) return challenges.invalidToken("the issuer offers no introspection endpoint");
    const r = await introspect(fetchFn, endpoint, cfg.clientId, cfg.clientSecret, token);
    counters.introspected++;
    if ("error" in r) return challenges.invalidToken(r.error);
    const claims = r.claims;
    if (claims.iss !== undefined && claims.iss !== settings.issuer)
      return challenges.invalidToken("wrong issuer");
    const aud = claims.aud;
    if (
      aud !== undefined &&
      !(aud === settings.audience || (Array.isArray(aud) && aud.includes(settings.audience)))
    ) {
      return challenges.invalidToken("the token is meant for another resource");
    }
    if (typeof claims.exp === "number" && claims.exp * 1000 + settings.clockSkewSeconds * 1000 <= now()) {
      return challenges.invalidToken("the token has expired");
    }
    const identity = identityFrom(claims, token);
    if (typeof identity === "string") return challenges.invalidToken(identity);
    return { ok: true, identity };
  }

  /** Verifies a token the cache does not hold, and caches its identity under `header` (canonical) until it expires. */
  async function verify(token: string, header: string): Promise<AuthResult> {
    const looksJwt = token.split(".").length === 3;
    const result =
      looksJwt && (settings.jwksUri !== undefined || !settings.introspection)
        ? await verifyJwt(token)
        : await viaIntrospection(token);
    if (result.ok) {
      const exp = result.identity.expiresAt;
      // Introspected tokens are rechecked at least every minute (revocation).
      const until = looksJwt ? exp : Math.min(exp ?? Number.POSITIVE_INFINITY, now() + 60_000);
      if (until !== undefined) cache.set(header, result.identity, until);
    }
    return result;
  }

  return {
    authenticate(authorization) {
      if (authorization === undefined || authorization === "") return challenges.missing();
      // Identities are cached under the canonical header `Bearer <token>`: the common spelling
      // hits without parsing, and other spellings of the same token (case, spaces) are parsed and
      // find the same entry, so they can neither fill the cache nor be verified again.
      const cached = cache.get(authorization);
      if (cached) {
        counters.cacheHits++;
        return { ok: true, identity: cached };
      }
      if (!/^Bearer /i.test(authorization)) return challenges.missing();
      const m = BEARER.exec(authorization);
      if (!m?.[1]) return challenges.invalidRequest("malformed Authorization header");
      const canonical = `Bearer ${m[1]}`;
      const known = canonical === authorization ? undefined : cache.get(canonical);
      if (known) {
        counters.cacheHits++;
        return { ok: true, identity: known };
      }
      return verify(m[1], canonical);
    },
    insufficientScope: (required) => challenges.insufficientScope(required),
    metadata: () =>
      metadataDocument({
        resource: settings.audience,
        issuer: settings.issuer,
        scopesSupported: settings.scopesSupported,
        resourceName: settings.resourceName,
      }),
    metadataPaths: location.paths,
    metadataUrl: location.url,
    stats: () => ({ ...counters }),
    async ready() {
      try {
        if (settings.jwksUri === undefined && settings.introspection) {
          const endpoint = settings.introspection.endpoint ?? (await discovery()).introspection_endpoint;
          if (!endpoint)
            return { ok: false, detail: `the issuer ${settings.issuer} offers no introspection` };
          return { ok: true, detail: "tokens are introspected" };
        }
        const set = await keySet();
        // jose shares one fetch among concurrent callers; keys once fetched stay (refreshed on use).
        if (!set.jwks()) await set.reload();
        return { ok: true, detail: "signing keys fetched" };
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
        const why = err instanceof Error ? `${err.message}${cause}` : String(err);
        return { ok: false, detail: `cannot fetch the IdP's signing keys: ${why}` };
      }
    },
  };
}

/** A short, token-free reason for a failed verification. */
function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "iss":
        return "the token was issued by another issuer";
      case "aud":
        return "the token is meant for another resource";
      case "nbf":
        return "the token is not valid yet";
      case "iat":
        return "the token's issue time is in the future";
      case "typ":
        return 'the token is not an access token (typ "at+jwt" required)';
      default:
        return `the token's "${err.claim}" claim is invalid (${err.reason})`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not accepted";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key of the issuer matches the token";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return "the token is malformed";
  if (err instanceof errors.JOSENotSupported) return "the token uses an unsupported algorithm";
  return "the token could not be verified";
}
