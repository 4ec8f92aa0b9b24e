/** Resource-server settings, after defaults (see `mcpengine.v1.Auth`). */
export interface AuthSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri?: string;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  readonly requireTyp: boolean;
  readonly scopeClaims: readonly string[];
  readonly introspection?: { endpoint?: string; clientId: string; clientSecret: string };
  readonly scopesSupported: readonly string[];
  readonly resourceName?: string;
  readonly cacheSize: number;
  readonly jwksCooldownMs: number;
  readonly clientId?: string;
  readonly clientSecret?: string;
}

/** A verified caller. */
export interface Identity {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly claims: Readonly<Record<string, unknown>>;
  /** The bearer token as received (for forwarding). */
  readonly token: string;
  /** Expiry in epoch milliseconds, when known. */
  readonly expiresAt?: number;
}

/** A refusal, ready to be answered at the HTTP layer (RFC 6750 §3). */
export interface AuthFailure {
  readonly ok: false;
  readonly status: 400 | 401 | 403;
  readonly wwwAuthenticate: string;
  /** RFC 6750 error code, or "" when no token was sent. */
  readonly error: "" | "invalid_request" | "invalid_token" | "insufficient_scope";
  readonly description: string;
}

/** The outcome of authenticating a request. */
export type AuthResult = { readonly ok: true; readonly identity: Identity } | AuthFailure;

/** Default JWS algorithms: asymmetric only, so a public key can never act as an HMAC secret. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
