/** The options and the public face of the proxy's OAuth client. */
import type { AuthSource } from "../types.js";
import { parseUrl } from "./http.js";
import { expiresWithin, grantedScopes, type StoredRecord, type TokenEndpointAuth } from "./store.js";

/** Options of `createOAuthClient`, each checked once by {@link validateOptions}. */
export interface OAuthClientOptions {
  /** The MCP endpoint. */
  readonly serverUrl: URL;
  /** Token store root; default `MCPENGINE_HOME`, else `~/.mcpengine`. */
  readonly home?: string;
  /** A client pre-registered at the authorization server; default none (see `clientMetadataUrl`, registration). */
  readonly clientId?: string;
  /** Its secret; default none (a public client). */
  readonly clientSecret?: string;
  /** Default `client_secret_basic` (or `_post` if that is all the server takes) with a secret, else `none`. */
  readonly tokenEndpointAuth?: TokenEndpointAuth;
  /** An https URL serving this client's metadata document, used as `client_id` where supported; default none. */
  readonly clientMetadataUrl?: string;
  /** The loopback callback's port; default the one registered before, else a free one. */
  readonly callbackPort?: number;
  /** Send RFC 8707 `resource` in authorization and token requests; default true. */
  readonly resource?: boolean;
  /** Scopes to ask for besides those the server names; default none. */
  readonly scopes?: readonly string[];
  /** Shows or opens the login link. */
  readonly onLoginUrl: (url: URL) => void;
  /** Operator messages; never given a token. Default: none. */
  readonly log?: (message: string) => void;
  /** `fetch` to use; default the global one. */
  readonly fetch?: typeof fetch;
  /** How long the user has to complete a login; default 5 minutes. */
  readonly loginTimeoutMs?: number;
  /**
   * Log in with the device authorization grant (RFC 8628) where the authorization
   * server offers it: the link opens on any device and the user confirms a code;
   * no loopback callback. Default false (the browser comes back to 127.0.0.1).
   */
  readonly deviceAuthorization?: boolean;
  /**
   * No user at all: the pre-registered client (`clientId`, `clientSecret`) gets its
   * own tokens with the client credentials grant (RFC 6749 §4.4). Default false.
   */
  readonly clientCredentials?: boolean;
}

/** The login state of one server, as `mcpengine proxy status` shows it. */
export interface OAuthStatus {
  readonly loggedIn: boolean;
  readonly issuer?: string;
  /** When the access token expires, epoch seconds. */
  readonly expiresAt?: number;
  readonly scopes?: string[];
}

/** The OAuth client of one MCP server. */
export interface OAuthClient extends AuthSource {
  /** Resolves when a login under way (or done by another instance) has produced a token. */
  loggedIn(): Promise<void>;
  /** The login link while a login is pending, else undefined. */
  loginUrl(): URL | undefined;
  /** Forgets the tokens and the client registration for this server. */
  logout(): Promise<void>;
  status(): Promise<OAuthStatus>;
}

/** Checks the options once; a contradiction is the caller's mistake and throws. */
export function validateOptions(options: OAuthClientOptions): void {
  if (options.clientSecret && !options.clientId) throw new TypeError("clientSecret needs a clientId");
  if (options.clientCredentials && !(options.clientId && options.clientSecret)) {
    throw new TypeError("clientCredentials needs a clientId and a clientSecret");
  }
  if (options.tokenEndpointAuth && options.tokenEndpointAuth !== "none" && !options.clientSecret) {
    throw new TypeError(`tokenEndpointAuth ${options.tokenEndpointAuth} needs a clientSecret`);
  }
  if (options.clientMetadataUrl) {
    // draft-ietf-oauth-client-id-metadata-document: an https URL with a path.
    const url = parseUrl(options.clientMetadataUrl);
    if (url?.protocol !== "https:" || url.pathname === "/" || url.hash) {
      throw new TypeError("clientMetadataUrl must be an https URL with a path");
    }
  }
  const port = options.callbackPort;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new TypeError(`callbackPort must be a port number, got ${port}`);
  }
}

/** The status of what is stored for a server. */
export function statusOf(record: StoredRecord | undefined): OAuthStatus {
  const tokens = record?.tokens;
  return {
    loggedIn: tokens !== undefined && (!expiresWithin(tokens, 0) || tokens.refresh_token !== undefined),
    ...(record ? { issuer: record.issuer } : {}),
    ...(tokens?.expires_at !== undefined ? { expiresAt: tokens.expires_at } : {}),
    ...(tokens ? { scopes: grantedScopes(tokens) } : {}),
  };
}
