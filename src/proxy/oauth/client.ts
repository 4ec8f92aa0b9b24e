/**
 * The proxy's OAuth 2.1 client (MCP authorization, 2025-11-25): supplies the
 * bearer token for a remote MCP server, renews it, and answers the server's
 * challenges — refresh on 401, a new login when the refresh token is dead, a
 * step-up login on 403 `insufficient_scope`. Logins run in the background and
 * are shared: by concurrent callers in this process, and through the login
 * lock by other proxy processes for the same server.
 */
import { parseBearerChallenge } from "./challenge.js";
import { createCredentialsClient } from "./credentials.js";
import { discoveryCache } from "./discovery.js";
import { explain, OAuthClientError } from "./errors.js";
import { refreshTokens } from "./flow.js";
import type { Http } from "./http.js";
import { lockOr } from "./lock.js";
import { LOCK_STALE_MARGIN_MS, runLogin } from "./login.js";
import { type OAuthClient, type OAuthClientOptions, statusOf, validateOptions } from "./options.js";
import type { ClientSettings } from "./registration.js";
import { covers, type ScopeSources, selectScopes } from "./scopes.js";
import {
  type ClientRegistration,
  createStore,
  defaultHome,
  expiresWithin,
  grantedScopes,
  type StoredRecord,
  type StoredTokens,
} from "./store.js";

export type { OAuthClient, OAuthClientOptions, OAuthStatus } from "./options.js";

/** A token expiring within this many seconds is refreshed before use. */
export const EXPIRY_SKEW_SECONDS = 60;
/** Step-up logins asking for the same scopes, at most (MCP authorization, "Step-Up Authorization Flow"). */
export const STEP_UP_LIMIT = 2;
/** A token refused this soon after the login that produced it points at the server, not the user. */
const FRESH_LOGIN_SECONDS = 60;
const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;
/** How long a refresh waits for another process holding the lock. */
const REFRESH_WAIT_MS = 15_000;

type Refreshed = { readonly kind: "ok"; readonly tokens: StoredTokens } | { readonly kind: "dead" };

/** Creates the OAuth client of the MCP server at `options.serverUrl`. */
export function createOAuthClient(options: OAuthClientOptions): OAuthClient {
  validateOptions(options);
  const { serverUrl } = options;
  const http: Http = { fetch: options.fetch ?? globalThis.fetch };
  const store = createStore(options.home ?? defaultHome(), serverUrl);
  const log = options.log ?? (() => {});
  const discovery = discoveryCache(http, serverUrl, async () => (await store.read())?.resource_metadata);
  if (options.clientCredentials) {
    return createCredentialsClient({
      options,
      http,
      store,
      discovery,
      log,
      skewSeconds: EXPIRY_SKEW_SECONDS,
      stepUpLimit: STEP_UP_LIMIT,
    });
  }
  const timeoutMs = options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const settings: ClientSettings = {
    ...(options.clientId ? { clientId: options.clientId } : {}),
    ...(options.clientSecret ? { clientSecret: options.clientSecret } : {}),
    ...(options.tokenEndpointAuth ? { tokenEndpointAuth: options.tokenEndpointAuth } : {}),
    ...(options.clientMetadataUrl ? { clientMetadataUrl: options.clientMetadataUrl } : {}),
  };

  let login: { promise: Promise<StoredTokens>; url?: URL } | undefined;
  let refreshing: Promise<Refreshed> | undefined;
  let lastServed: string | undefined;
  let lastLoginAt = 0;
  const stepUps = new Map<string, number>();

  /** Starts a login in the background unless one is under way. */
  function startLogin(sources: ScopeSources, satisfiedBy: (tokens: StoredTokens) => boolean): void {
    if (login) return;
    const current: { promise: Promise<StoredTokens>; url?: URL } = {
      promise: (async () => {
        const d = await discovery.get();
        const scopes = selectScopes({
          ...sources,
          ...(d.resource.scopes_supported ? { resourceScopes: d.resource.scopes_supported } : {}),
          ...(options.scopes ? { extra: options.scopes } : {}),
          ...(d.as.scopes_supported ? { serverScopes: d.as.scopes_supported } : {}),
        });
        return runLogin({
          http,
          serverUrl,
          store,
          discovered: d,
          client: settings,
          ...(options.callbackPort !== undefined ? { callbackPort: options.callbackPort } : {}),
          resource: options.resource !== false,
          device: options.deviceAuthorization === true,
          scopes,
          timeoutMs,
          log,
          satisfiedBy,
          onLoginUrl(url) {
            current.url = url;
            options.onLoginUrl(url);
          },
        });
      })(),
    };
    login = current;
    current.promise.then(
      (tokens) => {
        lastLoginAt = tokens.obtained_at;
        log(`logged in to ${serverUrl.origin}${tokens.scope ? ` (scopes: ${tokens.scope})` : ""}`);
      },
      (err: unknown) => log(`login to ${serverUrl.origin} failed: ${explain(err)}`),
    );
    void current.promise
      .catch(() => undefined)
      .finally(() => {
        if (login === current) login = undefined;
      });
  }

  /** Refreshes `stale` once across callers and processes; "dead" when only a login can help. */
  function refresh(stale: StoredTokens): Promise<Refreshed> {
    refreshing ??= refreshUnderLock(stale).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function refreshUnderLock(stale: StoredTokens): Promise<Refreshed> {
    const newer = async () => {
      const tokens = (await store.read())?.tokens;
      return tokens && tokens.access_token !== stale.access_token ? tokens : undefined;
    };
    const waited = await lockOr(store.lockFile, newer, {
      staleMs: timeoutMs + LOCK_STALE_MARGIN_MS,
      timeoutMs: REFRESH_WAIT_MS,
    });
    if (waited.kind === "done") return { kind: "ok", tokens: waited.value };
    try {
      const record = await store.read();
      const tokens = record?.tokens;
      if (!record || !tokens) return { kind: "dead" };
      if (tokens.access_token !== stale.access_token) return { kind: "ok", tokens };
      const d = await discovery.get();
      const registration = record.client && withSecret(record.client, settings);
      if (d.as.issuer !== record.issuer || registration?.client_id !== tokens.client_id) {
        await store.write(withoutTokens(record));
        return { kind: "dead" };
      }
      const result = await refreshTokens(
        {
          http,
          as: d.as,
          registration,
          ...(options.resource !== false ? { resource: d.resource.resource } : {}),
        },
        tokens,
      );
      switch (result.kind) {
        case "refreshed":
          await store.write({ ...record, tokens: result.tokens });
          return { kind: "ok", tokens: result.tokens };
        case "invalid_grant":
          log(`the refresh token for ${serverUrl.origin} is no longer valid (${result.description})`);
          await store.write(withoutTokens(record));
          return { kind: "dead" };
      }
    } finally {
      await waited.lock.release();
    }
  }

  /** Forgets `dead` (only it: another process may have stored a newer token meanwhile). */
  async function forget(dead: StoredTokens): Promise<void> {
    const record = await store.read();
    if (record?.tokens?.access_token === dead.access_token) await store.write(withoutTokens(record));
  }

  /**
   * The issuer the server names now, if it is not the one our tokens come from
   * (MCP 2026-07-28 authorization, "Authorization Server Binding": a change is
   * seen in the protected resource metadata, and the client must register with
   * the new server). Read afresh, as the token the server refused may be the
   * first sign of the move; a failed read changes nothing here.
   */
  async function movedTo(): Promise<string | undefined> {
    discovery.forget();
    try {
      const [d, record] = await Promise.all([discovery.get(), store.read()]);
      return record && d.as.issuer !== record.issuer ? d.as.issuer : undefined;
    } catch {
      return undefined;
    }
  }

  async function stepUp(needed: readonly string[]): Promise<"login"> {
    if (login) return "login";
    const tokens = (await store.read())?.tokens;
    const granted = grantedScopes(tokens);
    const key = [...new Set([...granted, ...needed])].sort().join(" ");
    const tries = stepUps.get(key) ?? 0;
    if (tries >= STEP_UP_LIMIT) {
      throw new OAuthClientError(
        "step_up_limit",
        `${serverUrl.origin} still asks for ${needed.join(" ") || "more scopes"} after ${tries} logins asking for it`,
      );
    }
    stepUps.set(key, tries + 1);
    log(`${serverUrl.origin} needs the scope(s) ${needed.join(" ") || "(unnamed)"}: logging in again`);
    startLogin(
      { challenged: needed, granted },
      (t) => t.access_token !== tokens?.access_token && covers(grantedScopes(t), needed),
    );
    return "login";
  }

  return {
    async authorization() {
      const stored = (await store.read())?.tokens;
      let tokens = stored;
      if (stored && expiresWithin(stored, EXPIRY_SKEW_SECONDS) && stored.refresh_token) {
        try {
          const result = await refresh(stored);
          tokens = result.kind === "ok" ? result.tokens : undefined;
        } catch (err) {
          log(`could not refresh the token for ${serverUrl.origin}: ${explain(err)}`);
          if (expiresWithin(stored, 0)) throw err;
        }
      }
      if (!tokens || expiresWithin(tokens, 0)) return undefined;
      lastServed = tokens.access_token;
      return `Bearer ${tokens.access_token}`;
    },

    async challenged(status, wwwAuthenticate) {
      const challenge = parseBearerChallenge(wwwAuthenticate);
      discovery.hint(challenge?.resourceMetadata);
      if (challenge?.error === "insufficient_scope") return stepUp(challenge.scopes ?? []);
      if (status === 403) {
        throw new OAuthClientError(
          "forbidden",
          `${serverUrl.origin} refused the request (403) without asking for scopes`,
        );
      }
      if (login) return "login";
      const tokens = (await store.read())?.tokens;
      const sources: ScopeSources = challenge?.scopes ? { challenged: challenge.scopes } : {};
      if (!tokens) {
        startLogin(sources, () => true);
        return "login";
      }
      // A token other than the refused one is at hand (renewed here or by another process).
      if (tokens.access_token !== lastServed && !expiresWithin(tokens, 0)) return "retry";
      const moved = await movedTo();
      if (moved) {
        log(`${serverUrl.origin} now names ${moved} as its authorization server: logging in there`);
      } else if (tokens.refresh_token) {
        if ((await refresh(tokens)).kind === "ok") return "retry";
      } else if (Date.now() / 1000 - lastLoginAt < FRESH_LOGIN_SECONDS) {
        // Logging in again would only loop: the server refuses what its own IdP just issued.
        throw new OAuthClientError(
          "token_rejected",
          `${serverUrl.origin} refused the token its authorization server issued moments ago; check the server's issuer and audience settings`,
        );
      }
      await forget(tokens);
      if (login) return "login";
      startLogin(sources, (t) => t.access_token !== tokens.access_token);
      return "login";
    },

    async loggedIn() {
      for (;;) {
        if (login) {
          await login.promise;
          return;
        }
        const tokens = (await store.read())?.tokens;
        if (tokens && (!expiresWithin(tokens, 0) || tokens.refresh_token)) return;
        await new Promise((resolve) => setTimeout(resolve, 250).unref());
      }
    },

    loginUrl: () => login?.url,

    async logout() {
      await store.remove();
      lastServed = undefined;
      stepUps.clear();
      log(`forgot the login for ${serverUrl.origin}`);
    },

    async status() {
      return statusOf(await store.read());
    },
  };
}

/** A pre-registered client's secret comes from the settings, never from disk. */
function withSecret(registration: ClientRegistration, settings: ClientSettings): ClientRegistration {
  return registration.kind === "preregistered" &&
    settings.clientSecret &&
    settings.clientId === registration.client_id &&
    registration.token_endpoint_auth_method !== "none"
    ? { ...registration, client_secret: settings.clientSecret }
    : registration;
}

function withoutTokens(record: StoredRecord): StoredRecord {
  const { tokens: _, ...rest } = record;
  return rest;
}
