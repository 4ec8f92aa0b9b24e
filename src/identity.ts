// createDiscovery (retries after a failure) is not exported by auth/index.ts yet: import its own file.
import { createDiscovery } from "./auth/discovery.js";
import {
  createTokenExchanger,
  type Identity,
  type ServerMetadata,
  type TokenExchanger,
} from "./auth/index.js";
import type { BackendConfig, GatewayConfig } from "./config/index.js";

/** Metadata key of the verified subject. Trust it only from behind the gateway. */
export const SUBJECT_HEADER = "x-mcpengine-subject";
/** Prefix of metadata keys carrying selected token claims. */
export const CLAIM_HEADER_PREFIX = "x-mcpengine-claim-";

/** gRPC ASCII metadata allows printable ASCII only; anything else is percent-encoded. */
function metadataValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /^[\x20-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}

/**
 * Builds the function that turns the caller's identity into request metadata
 * for each backend: the subject and selected claims always, plus the bearer
 * token as configured — `forward` (same audience), `exchange` (RFC 8693, a
 * token whose audience is the backend) or `none`. Only an exchange answers
 * with a promise; the rest is computed once per identity and returned as is.
 * `backendOf` names the backend settings in use (a reload may add or change
 * backends); by default those of `config`.
 */
export function createBackendCredentials(
  config: GatewayConfig,
  fetchFn: typeof fetch = fetch,
  backendOf: (name: string) => BackendConfig | undefined = fixedBackends(config),
) {
  /** Per backend settings: settings a reload replaced get an exchanger of their own. */
  const exchangers = new WeakMap<BackendConfig, TokenExchanger>();
  /**
   * The issuer's metadata (RFC 8414), fetched on the first exchange and shared by
   * every backend. A failed discovery is forgotten after a short pause, so a later
   * call tries again: an IdP that was down once must not disable exchange until restart.
   */
  let discovery: (() => Promise<ServerMetadata>) | undefined;

  function exchangerFor(b: BackendConfig): TokenExchanger {
    let ex = exchangers.get(b);
    if (ex) return ex;
    const auth = config.auth;
    if (!auth?.clientId || !auth.clientSecret || !b.identity.exchangeAudience) {
      throw new Error(`backend "${b.name}" is not configured for token exchange`);
    }
    const { clientId, clientSecret } = auth;
    const audience = b.identity.exchangeAudience;
    const scopes = b.identity.exchangeScopes;
    let inner: TokenExchanger | undefined;
    ex = {
      async exchange(token) {
        if (!inner) {
          discovery ??= createDiscovery(auth.issuer, fetchFn);
          const metadata = await discovery();
          if (!metadata.token_endpoint) throw new Error(`${auth.issuer} publishes no token_endpoint`);
          inner ??= createTokenExchanger(
            { tokenEndpoint: metadata.token_endpoint, clientId, clientSecret, audience, scopes },
            fetchFn,
          );
        }
        return inner.exchange(token);
      },
    };
    exchangers.set(b, ex);
    return ex;
  }

  /** Subject and claims metadata per identity and backend, computed once per verified token. */
  const fixed = new WeakMap<Identity, Map<BackendConfig, Metadata>>();

  /** The metadata of `identity` for `b` that does not change while the token lives. */
  function fixedFor(b: BackendConfig, identity: Identity): Metadata {
    let perBackend = fixed.get(identity);
    const known = perBackend?.get(b);
    if (known) return known;
    const built: { [key: string]: string } = { [SUBJECT_HEADER]: metadataValue(identity.subject) };
    for (const claim of b.identity.claims) {
      const v = identity.claims[claim];
      if (v !== undefined) built[`${CLAIM_HEADER_PREFIX}${claim.toLowerCase()}`] = metadataValue(v);
    }
    if (b.identity.mode === "forward") built.authorization = `Bearer ${identity.token}`;
    const headers = Object.freeze(built);
    if (!perBackend) {
      perBackend = new Map();
      fixed.set(identity, perBackend);
    }
    perBackend.set(b, headers);
    return headers;
  }

  return (
    backend: string,
    identity: Identity | undefined,
  ): Metadata | undefined | Promise<Metadata | undefined> => {
    const b = backendOf(backend);
    if (!b || !identity) return undefined;
    const headers = fixedFor(b, identity);
    if (b.identity.mode !== "exchange") return headers;
    return exchangerFor(b)
      .exchange(identity.token)
      .then((token) => ({ ...headers, authorization: `Bearer ${token}` }));
  };
}

/** gRPC request metadata as a plain object (lower-case keys). */
export type Metadata = { readonly [key: string]: string };

/** The backends of `config` by name: for a gateway whose backends never change. */
function fixedBackends(config: GatewayConfig): (name: string) => BackendConfig | undefined {
  const byName = new Map(config.backends.map((b) => [b.name, b]));
  return (name) => byName.get(name);
}
