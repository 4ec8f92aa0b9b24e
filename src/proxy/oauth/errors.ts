import { ResponseBodyError } from "oauth4webapi";

/** Why the OAuth client could not get or keep a token: stable codes to `switch` on. */
export type OAuthClientErrorCode =
  /** No usable protected resource or authorization server metadata (RFC 9728, RFC 8414). */
  | "discovery_failed"
  /** The protected resource metadata names another resource than the server asked (RFC 9728 §3.3). */
  | "resource_mismatch"
  /** The authorization server does not offer PKCE with S256 (OAuth 2.1 §4.1.1). */
  | "pkce_unsupported"
  /** No pre-registered client, no Client ID Metadata Document support, no registration endpoint. */
  | "no_client"
  /** Dynamic client registration (RFC 7591) failed. */
  | "registration_failed"
  /** The user or the authorization server refused the authorization request. */
  | "authorization_denied"
  /** The redirect to the callback failed its checks (`state`, RFC 9207 `iss`). */
  | "callback_invalid"
  /** The loopback port for the login callback is taken. */
  | "callback_unavailable"
  /** Nobody completed the login in time. */
  | "login_timeout"
  /** The token endpoint refused a grant or answered something unusable. */
  | "token_request_failed"
  /** The server keeps asking for more scopes after the step-up retries allowed. */
  | "step_up_limit"
  /** The server refused a token a login had just produced: its configuration is at fault, not the user. */
  | "token_rejected"
  /** The server answered 403 without asking for more scopes: more credentials will not help. */
  | "forbidden";

/** A failure of the proxy's OAuth client; the message is for the operator and never holds a token. */
export class OAuthClientError extends Error {
  override readonly name = "OAuthClientError";
  constructor(
    readonly code: OAuthClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An OAuth error answer (RFC 6749 §5.2) with this `error` code, as oauth4webapi reports it. */
export function isOAuthError(err: unknown, code: string): boolean {
  return err instanceof ResponseBodyError && err.error === code;
}

/** A short description of any failure, for logs (oauth4webapi errors carry the AS's `error`). */
export function explain(err: unknown): string {
  if (err instanceof ResponseBodyError) {
    return `${err.error}${err.error_description ? `: ${err.error_description}` : ""} (HTTP ${err.status})`;
  }
  return err instanceof Error ? err.message : String(err);
}
