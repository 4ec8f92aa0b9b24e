/**
 * The OAuth client without a user: a pre-registered confidential client gets
 * tokens of its own with the client credentials grant (RFC 6749 §4.4) — for
 * a proxy run by a service, where nobody could open a login link.
 */

import { parseBearerChallenge } from "./challenge.js";
import type { DiscoveryCache } from "./discovery.js";
import { OAuthClientError } from "./errors.js";
import { clientCredentialsGrant } from "./flow.js";
import type { Http } from "./http.js";
import { type OAuthClient, type OAuthClientOptions, statusOf } from "./options.js";
import { chooseClient } from "./registration.js";
import { selectScopes } from "./scopes.js";
import { expiresWithin, grantedScopes, type Store, type StoredTokens } from "./store.js";

/** What the client credentials client shares with the interactive one. */
export interface CredentialsContext {
  readonly options: OAuthClientOptions;
  readonly http: Http;
  readonly store: Store;
  readonly discovery: DiscoveryCache;
  readonly log: (message: string) => void;
  /** Seconds before expiry a token is renewed. */
  readonly skewSeconds: number;
  /** Step-ups asking for the same scopes, at most. */
  readonly stepUpLimit: number;
}

/** A token refused this soon after it was issued points at the server, not at the token. */
const FRESH_SECONDS = 60;

/** The client credentials flavour of the OAuth client. */
export function createCredentialsClient(ctx: CredentialsContext): OAuthClient {
  const { options, store } = ctx;
  let pending: Promise<StoredTokens> | undefined;
  let lastServed: string | undefined;
  const stepUps = new Map<string, number>();

  /** Gets a new token, once across concurrent callers, asking for `more` scopes besides the usual. */
  function obtain(more: readonly string[] = []): Promise<StoredTokens> {
    pending ??= (async () => {
      const d = await ctx.discovery.get();
      const record = await store.read();
      const choice = chooseClient(d.as, options, undefined, "");
      if (choice.kind !== "use")
        throw new OAuthClientError("no_client", "client credentials need a clientId");
      const scopes = selectScopes({
        ...(more.length > 0 ? { challenged: more } : {}),
        ...(d.resource.scopes_supported ? { resourceScopes: d.resource.scopes_supported } : {}),
        ...(record?.issuer === d.as.issuer ? { granted: grantedScopes(record.tokens) } : {}),
        ...(options.scopes ? { extra: options.scopes } : {}),
      });
      const tokens = await clientCredentialsGrant(
        {
          http: ctx.http,
          as: d.as,
          registration: choice.registration,
          ...(options.resource !== false ? { resource: d.resource.resource } : {}),
        },
        scopes,
      );
      const { client_secret: _, ...client } = choice.registration;
      await store.write({
        version: 1,
        server_url: options.serverUrl.href,
        issuer: d.as.issuer,
        resource_metadata: d.resourceMetadataUrl,
        client,
        tokens,
      });
      ctx.log(`got a client credentials token for ${options.serverUrl.origin}`);
      return tokens;
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    async authorization() {
      let tokens = (await store.read())?.tokens;
      if (!tokens || expiresWithin(tokens, ctx.skewSeconds)) tokens = await obtain();
      lastServed = tokens.access_token;
      return `Bearer ${tokens.access_token}`;
    },

    async challenged(status, wwwAuthenticate) {
      const challenge = parseBearerChallenge(wwwAuthenticate);
      ctx.discovery.hint(challenge?.resourceMetadata);
      const tokens = (await store.read())?.tokens;
      if (challenge?.error === "insufficient_scope") {
        const needed = challenge.scopes ?? [];
        const key = [...new Set([...grantedScopes(tokens), ...needed])].sort().join(" ");
        const tries = stepUps.get(key) ?? 0;
        if (tries >= ctx.stepUpLimit) {
          throw new OAuthClientError("step_up_limit", `the server still asks for ${needed.join(" ")}`);
        }
        stepUps.set(key, tries + 1);
        await obtain(needed);
        return "retry";
      }
      if (status === 403) throw new OAuthClientError("forbidden", "the server refused the request (403)");
      // A token other than the refused one is at hand.
      if (tokens && tokens.access_token !== lastServed && !expiresWithin(tokens, 0)) return "retry";
      if (tokens && Date.now() / 1000 - tokens.obtained_at < FRESH_SECONDS) {
        throw new OAuthClientError(
          "token_rejected",
          `${options.serverUrl.origin} refused a token its authorization server issued moments ago`,
        );
      }
      await obtain();
      return "retry";
    },

    async loggedIn() {
      const tokens = (await store.read())?.tokens;
      if (!tokens || expiresWithin(tokens, 0)) await obtain();
    },

    loginUrl: () => undefined,

    async logout() {
      await store.remove();
    },

    async status() {
      return statusOf(await store.read());
    },
  };
}
