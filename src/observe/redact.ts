/**
 * What never reaches a log line: credentials, found two ways.
 *
 * - By key: {@link REDACT_PATHS} are handed to pino's `redact`, so a logged
 *   object's `authorization`, `cookie`, `client_secret`, `token`… are replaced
 *   whatever their value looks like (an opaque token is not recognisable).
 * - By shape: {@link redactText} rewrites text that looks like a credential —
 *   a JWT (three base64url parts, the first a JSON header `eyJ…`), the value
 *   after `Bearer`/`Basic`, and the value of a secret-named parameter — wherever
 *   it occurs: in a backend's error message, a config error, a client-chosen
 *   request id. The logger runs every finished line through it (logger.ts), so
 *   no code path has to remember to.
 */

/** The text that replaces a credential. */
export const REDACTED = "[redacted]";

/** Names of secret-bearing keys, as logged objects may spell them (headers lower-case, config snake or camel). */
const SECRET_KEYS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "client_secret",
  "clientSecret",
  "token",
  "access_token",
  "accessToken",
  "refresh_token",
  "refreshToken",
  "id_token",
  "password",
  "state_key",
  "stateKey",
] as const;

/**
 * pino `redact` paths: each secret key at the top level, one level down
 * (`headers.authorization`, `auth.client_secret`) and two (`req.headers.cookie`).
 */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith("[") ? key : `.${key}`;
  return [key, `*${dot}`, `*.*${dot}`];
});

/** A JWT / JWS / JWE in compact form (RFC 7519 §3, RFC 7515 §7.1): `eyJ` is `{"` in base64url. */
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*/g;

/**
 * Case-insensitive shapes, in one pass:
 * 1. the credentials of an HTTP authentication scheme (RFC 9110 §11.4), `Bearer x` / `Basic x`;
 * 2. a secret-named parameter in a form, a query, JSON (escaped or not) or YAML: `client_secret=x`,
 *    `"client_secret":"x"`, `client_secret: x`.
 */
const NAMED =
  /\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*|\b(client_secret|access_token|refresh_token|id_token|password|token)((?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)[^\s"'\\&,;}]+/gi;

/** Cheap test before the regular expressions: text without any of these cannot match. */
const HINT = /eyJ|bearer|basic|secret|token|password/i;

/** `text` with every credential-shaped part replaced by {@link REDACTED}. */
export function redactText(text: string): string {
  if (!HINT.test(text)) return text;
  return text
    .replace(JWT, REDACTED)
    .replace(NAMED, (_, scheme?: string, space?: string, key?: string, sep?: string) =>
      scheme !== undefined ? `${scheme}${space}${REDACTED}` : `${key}${sep}${REDACTED}`,
    );
}
