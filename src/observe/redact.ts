/**
 * What never reaches a log line: credentials, found two ways.
 *
 * - By key: {@link redactKeys} replaces a logged object's `authorization`,
 *   `cookie`, `client_secret`, `token`… whatever their value looks like (an
 *   opaque token is not recognisable).
 * - By shape: {@link redactText} rewrites text that looks like a credential —
 *   a JWT (three base64url parts, the first a JSON header `eyJ…`), the value
 *   after `Bearer`/`Basic`, and the value of a secret-named parameter — wherever
 *   it occurs: in a backend's error message, a config error, a client-chosen
 *   request id. The logger runs every finished line through it (logger.ts), so
 *   no code path has to remember to.
 */

/** The text that replaces a credential. */
export const REDACTED = "[redacted]";

/** Keys whose values are secrets, lower-cased (headers; config in snake or camel case). */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "client_secret",
  "clientsecret",
  "token",
  "access_token",
  "accesstoken",
  "refresh_token",
  "refreshtoken",
  "id_token",
  "idtoken",
  "password",
  "state_key",
  "statekey",
]);

/** How deep {@link redactKeys} looks: `headers.authorization`, `req.headers.cookie`. */
const KEY_DEPTH = 3;

/**
 * `o` with the value of every secret-named key (at the first {@link KEY_DEPTH}
 * levels) replaced by {@link REDACTED}; `o` itself when it has none, so a
 * request line costs one pass over its few keys. Errors are left to
 * {@link redactText}, which sees their serialized message and stack.
 * (pino's own `redact` option does this by path, at ten times the cost of the
 * whole line with wildcards: measured, so not used.)
 */
export function redactKeys(o: { [key: string]: unknown }, depth = 1): { [key: string]: unknown } {
  let out: { [key: string]: unknown } | undefined;
  for (const key in o) {
    const value = o[key];
    let next = value;
    // toLowerCase returns the key itself when it is lower case already (V8): no copy per key.
    if (SECRET_KEYS.has(key.toLowerCase())) next = REDACTED;
    else if (depth < KEY_DEPTH && isPlainObject(value)) next = redactKeys(value, depth + 1);
    if (next !== value) {
      out ??= { ...o };
      out[key] = next;
    }
  }
  return out ?? o;
}

function isPlainObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Error);
}

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
