/**
 * The authorization code grant with PKCE (OAuth 2.1 §4.1; MCP authorization,
 * "Authorization Code Protection"), the refresh token grant, and what a
 * token response becomes in the store. Every request and every check of an
 * answer is oauth4webapi's; this file decides what goes into them.
 */
import {
  AuthorizationResponseError,
  type AuthorizationServer,
  authorizationCodeGrantRequest,
  calculatePKCECodeChallenge,
  clientCredentialsGrantRequest,
  generateRandomCodeVerifier,
  generateRandomState,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type TokenEndpointResponse,
  validateAuthResponse,
} from "oauth4webapi";
import { explain, isOAuthError, OAuthClientError } from "./errors.js";
import { type Http, isLoopback, parseUrl, requestOptions } from "./http.js";
import { clientAuth, oauthClient } from "./registration.js";
import type { ClientRegistration, StoredTokens } from "./store.js";

/** What every grant needs. */
export interface GrantContext {
  readonly http: Http;
  readonly as: AuthorizationServer;
  readonly registration: ClientRegistration;
  /** The RFC 8707 `resource` to send in authorization and token requests; undefined: none. */
  readonly resource?: string;
}

/** An authorization request sent to the browser, and what is needed to redeem its answer. */
export interface PendingAuthorization {
  readonly url: URL;
  readonly state: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
  /** The scopes asked for: what was granted when the token response does not say (RFC 6749 §5.1). */
  readonly scopes: readonly string[];
}

/**
 * Refuses an authorization server that lists its PKCE methods without S256
 * (OAuth 2.1 §4.1.1: S256 is the method a client that can must use). A server
 * that lists none is tried all the same — S256 is always sent — because some
 * widely used OpenID providers leave the list out although they support it.
 */
export function checkPkce(as: AuthorizationServer): void {
  const methods = as.code_challenge_methods_supported;
  if (methods !== undefined && !methods.includes("S256")) {
    throw new OAuthClientError(
      "pkce_unsupported",
      `${as.issuer} does not support PKCE with S256 (it lists ${methods.join(", ") || "no method"})`,
    );
  }
}

/** Builds the authorization request (RFC 6749 §4.1.1 with RFC 7636, RFC 8707). */
export async function authorizationRequest(
  ctx: GrantContext,
  redirectUri: string,
  scopes: readonly string[],
): Promise<PendingAuthorization> {
  checkPkce(ctx.as);
  const endpoint = ctx.as.authorization_endpoint ? parseUrl(ctx.as.authorization_endpoint) : undefined;
  if (
    !endpoint ||
    !(endpoint.protocol === "https:" || (endpoint.protocol === "http:" && isLoopback(endpoint)))
  ) {
    throw new OAuthClientError("discovery_failed", `${ctx.as.issuer} has no usable authorization_endpoint`);
  }
  const codeVerifier = generateRandomCodeVerifier();
  const state = generateRandomState();
  const params = endpoint.searchParams;
  params.set("response_type", "code");
  params.set("client_id", ctx.registration.client_id);
  params.set("redirect_uri", redirectUri);
  params.set("code_challenge", await calculatePKCECodeChallenge(codeVerifier));
  params.set("code_challenge_method", "S256");
  params.set("state", state);
  if (scopes.length > 0) params.set("scope", scopes.join(" "));
  if (ctx.resource) params.set("resource", ctx.resource);
  // OpenID providers drop offline_access unless the user is asked to consent (OIDC Core §11).
  if (scopes.includes("offline_access")) params.set("prompt", "consent");
  return { url: endpoint, state, codeVerifier, redirectUri, scopes: [...scopes] };
}

/** What the redirect to the callback means. */
export type CallbackCheck =
  | { readonly kind: "valid"; readonly params: URLSearchParams }
  /** Not the answer to our request (no or another `state`): a stale tab or a forged link. */
  | { readonly kind: "foreign" };

/**
 * Checks the authorization response: `state` first (a foreign one is not ours
 * to act on), then oauth4webapi's checks, among them RFC 9207 `iss` compared
 * exactly. Throws `authorization_denied` for an error answer and
 * `callback_invalid` for a response that fails a check.
 */
export function checkCallback(
  ctx: GrantContext,
  pending: PendingAuthorization,
  params: URLSearchParams,
): CallbackCheck {
  if (params.getAll("state").length !== 1 || params.get("state") !== pending.state)
    return { kind: "foreign" };
  try {
    return {
      kind: "valid",
      params: validateAuthResponse(ctx.as, oauthClient(ctx.registration), params, pending.state),
    };
  } catch (err) {
    if (err instanceof AuthorizationResponseError) {
      throw new OAuthClientError(
        "authorization_denied",
        `the authorization server refused: ${err.error}${err.error_description ? ` (${err.error_description})` : ""}`,
        { cause: err },
      );
    }
    throw new OAuthClientError(
      "callback_invalid",
      `the authorization response failed a check: ${explain(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Redeems the authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2). */
export async function exchangeCode(
  ctx: GrantContext,
  pending: PendingAuthorization,
  params: URLSearchParams,
): Promise<StoredTokens> {
  try {
    const response = await authorizationCodeGrantRequest(
      ctx.as,
      oauthClient(ctx.registration),
      clientAuth(ctx.registration),
      params,
      pending.redirectUri,
      pending.codeVerifier,
      { ...requestOptions(ctx.http, ctx.as.issuer), ...resourceParameter(ctx) },
    );
    return storedTokens(
      await processAuthorizationCodeResponse(ctx.as, oauthClient(ctx.registration), response),
      ctx.registration.client_id,
      pending.scopes.length > 0 ? { scope: pending.scopes.join(" ") } : undefined,
    );
  } catch (err) {
    if (err instanceof OAuthClientError) throw err;
    throw new OAuthClientError("token_request_failed", `the code exchange failed: ${explain(err)}`, {
      cause: err,
    });
  }
}

/** The outcome of a refresh: new tokens, or the refresh token is no good any more. */
export type RefreshResult =
  | { readonly kind: "refreshed"; readonly tokens: StoredTokens }
  | { readonly kind: "invalid_grant"; readonly description: string };

/**
 * Uses the refresh token (OAuth 2.1 §4.3). A rotated refresh token replaces
 * the old one; without a new one the old one stays. `invalid_grant` (revoked,
 * expired, reused) comes back as a value; other failures throw.
 */
export async function refreshTokens(ctx: GrantContext, tokens: StoredTokens): Promise<RefreshResult> {
  if (!tokens.refresh_token) return { kind: "invalid_grant", description: "no refresh token" };
  try {
    const response = await refreshTokenGrantRequest(
      ctx.as,
      oauthClient(ctx.registration),
      clientAuth(ctx.registration),
      tokens.refresh_token,
      { ...requestOptions(ctx.http, ctx.as.issuer), ...resourceParameter(ctx) },
    );
    const body = await processRefreshTokenResponse(ctx.as, oauthClient(ctx.registration), response);
    return { kind: "refreshed", tokens: storedTokens(body, ctx.registration.client_id, tokens) };
  } catch (err) {
    if (isOAuthError(err, "invalid_grant")) return { kind: "invalid_grant", description: explain(err) };
    throw new OAuthClientError("token_request_failed", `the refresh failed: ${explain(err)}`, {
      cause: err,
    });
  }
}

/** Gets a token for the client itself, no user involved (RFC 6749 §4.4, RFC 8707 §2.2). */
export async function clientCredentialsGrant(
  ctx: GrantContext,
  scopes: readonly string[],
): Promise<StoredTokens> {
  const params: Record<string, string> = {};
  if (scopes.length > 0) params.scope = scopes.join(" ");
  if (ctx.resource) params.resource = ctx.resource;
  try {
    const response = await clientCredentialsGrantRequest(
      ctx.as,
      oauthClient(ctx.registration),
      clientAuth(ctx.registration),
      params,
      requestOptions(ctx.http, ctx.as.issuer),
    );
    const body = await processClientCredentialsResponse(ctx.as, oauthClient(ctx.registration), response);
    return storedTokens(body, ctx.registration.client_id, params.scope ? { scope: params.scope } : undefined);
  } catch (err) {
    throw new OAuthClientError(
      "token_request_failed",
      `the client credentials grant failed: ${explain(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** A token response as stored: `expires_at` from `expires_in`; what the response leaves out, kept. */
export function storedTokens(
  body: TokenEndpointResponse,
  clientId: string,
  previous?: Pick<StoredTokens, "refresh_token" | "scope">,
  now = Date.now(),
): StoredTokens {
  const seconds = Math.floor(now / 1000);
  const refresh = body.refresh_token ?? previous?.refresh_token;
  const scope = body.scope ?? previous?.scope;
  return {
    access_token: body.access_token,
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(scope ? { scope } : {}),
    ...(typeof body.expires_in === "number" ? { expires_at: seconds + body.expires_in } : {}),
    obtained_at: seconds,
    client_id: clientId,
  };
}

/** Whether a URL from the authorization server may be shown to the user and opened in a browser. */
export function isBrowsable(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url));
}

export function resourceParameter(ctx: GrantContext): { additionalParameters?: Record<string, string> } {
  return ctx.resource ? { additionalParameters: { resource: ctx.resource } } : {};
}
