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
  stats(): AuthStats;
  /**
   * For readiness probes: whether the IdP's signing keys were fetched at
   * least once (fetching them now if not); with introspection only, whether
   * its endpoint is known. Never throws.
   */
  ready(): Promise<{ ok: boolean; detail: string }>;
}

/** What the resource server counted since it was created. */
export interface AuthStats {
  /** JWTs verified by signature (not from the cache). */
  readonly verified: number;
  /** Requests whose token was found in the cache of verified tokens. */
  readonly cacheHits: number;
  /** Requests whose token had to be verified (a JWT's signature, or introspection). */
  readonly cacheMisses: number;
  readonly introspected: number;
  /**
   * Requests by outcome: admitted, no token, a malformed header, a refused
   * token, and tokens refused because the identity provider failed.
   */
  readonly outcomes: {
    readonly ok: number;
    readonly missing: number;
    readonly invalid_request: number;
    readonly invalid_token: number;
    readonly error: number;
  };
}

/** Where the identity provider failed: its metadata, its signing keys, or the introspection endpoint. */
export type ProviderStage = "discovery" | "jwks" | "introspection";

/** Options of {@link createResourceServer}. */
export interface ResourceServerOptions {
  /** Public origin of the gateway (for the metadata URL). Default: the audience's origin. */
  readonly publicUrl?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /**
   * Told each time the identity provider fails a request's verification
   * (unreachable, an error status, a malformed answer), with the cause. The
   * token is then refused as `invalid_token` without having been judged:
   * operators must hear of it, since clients will blame their token.
   */
  readonly onProviderFailure?: (stage: ProviderStage, cause: unknown) => void;
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
  const counters = { verified: 0, cacheHits: 0, cacheMisses: 0, introspected: 0 };
  const outcomes = { ok: 0, missing: 0, invalid_request: 0, invalid_token: 0, error: 0 };
  const onProviderFailure = options.onProviderFailure;

  /** Refusals because the identity provider failed (counted as `error`, not `invalid_token`). */
  const providerFailures = new WeakSet<AuthFailure>();

  /** Refuses a token because the identity provider failed, and says so. */
  function providerFailed(stage: ProviderStage, cause: unknown): AuthFailure {
    outcomes.error++;
    onProviderFailure?.(stage, cause);
    const failure = challenges.invalidToken(
      "the token could not be verified: the identity provider is unavailable",
    );
    providerFailures.add(failure);
    return failure;
  }
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  /** Where the key set is fetched from, once known (for failure reports). */
  let jwksLocation = settings.jwksUri ?? "";

  /**
   * The issuer's key set, built once: concurrent first requests share one
   * discovery and one set (whose first fetch jose shares among its callers);
   * a failed discovery is forgotten so that a later request tries again.
   */
  function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    jwks ??= (async () => {
      const uri = settings.jwksUri ?? (await discovery()).jwks_uri;
      if (!uri) throw new Error(`the issuer ${settings.issuer} publishes no jwks_uri`);
      jwksLocation = uri;
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
    let keys: Awaited<ReturnType<typeof keySet>>;
    try {
      keys = await keySet();
    } catch (err) {
      return providerFailed("discovery", err);
    }
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, keys, {
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
      if (isKeySetFailure(err)) {
        return providerFailed("jwks", new Error(`cannot fetch the key set ${jwksLocation}`, { cause: err }));
      }
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
    let endpoint = cfg.endpoint;
    if (endpoint === undefined) {
      try {
        endpoint = (await discovery()).introspection_endpoint;
      } catch (err) {
        return providerFailed("discovery", err);
      }
    }
    if (!endpoint) return challenges.invalidToken("the issuer offers no introspection endpoint");
    const r = await introspect(fetchFn, endpoint, cfg.clientId, cfg.clientSecret, token);
    counters.introspected++;
    if ("failure" in r) return providerFailed("introspection", r.failure);
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
    counters.cacheMisses++;
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
      outcomes.ok++;
    } else if (!providerFailures.has(result)) {
      outcomes.invalid_token++;
    }
    return result;
  }

  return {
    authenticate(authorization) {
      if (authorization === undefined || authorization === "") {
        outcomes.missing++;
        return challenges.missing();
      }
      // Identities are cached under the canonical header `Bearer <token>`: the common spelling
      // hits without parsing, and other spellings of the same token (case, spaces) are parsed and
      // find the same entry, so they can neither fill the cache nor be verified again.
      const cached = cache.get(authorization);
      if (cached) {
        counters.cacheHits++;
        outcomes.ok++;
        return { ok: true, identity: cached };
      }
      if (!/^Bearer /i.test(authorization)) {
        outcomes.missing++;
        return challenges.missing();
      }
      const m = BEARER.exec(authorization);
      if (!m?.[1]) {
        outcomes.invalid_request++;
        return challenges.invalidRequest("malformed Authorization header");
      }
      const canonical = `Bearer ${m[1]}`;
      const known = canonical === authorization ? undefined : cache.get(canonical);
      if (known) {
        counters.cacheHits++;
        outcomes.ok++;
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
    stats: () => ({ ...counters, outcomes: { ...outcomes } }),
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

/**
 * Whether jose failed to get the issuer's keys rather than judged the token:
 * the fetch failed (not a JOSE error: a network error), timed out, or the
 * answer was not a key set (jose's generic error: not 200, not JSON).
 */
function isKeySetFailure(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return (
    err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === "ERR_JOSE_GENERIC"
  );
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
