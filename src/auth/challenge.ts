import type { AuthFailure } from "./types.js";

/** Quotes a value for an auth-param (RFC 9110 §11.2 quoted-string). */
function quote(v: string): string {
  return `"${v.replace(/[\\"]/g, "\\$&").replace(/[\r\n]/g, " ")}"`;
}

function header(params: [string, string | undefined][]): string {
  const parts = params.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== "");
  return `Bearer ${parts.map(([k, v]) => `${k}=${quote(v)}`).join(", ")}`;
}

/**
 * Builds the refusals of a resource server: 401 without or with a bad token,
 * 400 for a malformed request, 403 for missing scopes (RFC 6750 §3, §3.1), each
 * pointing at the Protected Resource Metadata (RFC 9728 §5.1) and naming the
 * scopes the client should ask for (MCP authorization, "Scope Selection Strategy").
 */
export function createChallenges(metadataUrl: string, defaultScopes: readonly string[]) {
  const scopeOf = (s: readonly string[]) => (s.length > 0 ? s.join(" ") : undefined);
  return {
    missing(): AuthFailure {
      return {
        ok: false,
        status: 401,
        error: "",
        description: "a bearer token is required",
        wwwAuthenticate: header([
          ["resource_metadata", metadataUrl],
          ["scope", scopeOf(defaultScopes)],
        ]),
      };
    },
    invalidToken(description: string): AuthFailure {
      return {
        ok: false,
        status: 401,
        error: "invalid_token",
        description,
        wwwAuthenticate: header([
          ["error", "invalid_token"],
          ["error_description", description],
          ["resource_metadata", metadataUrl],
          ["scope", scopeOf(defaultScopes)],
        ]),
      };
    },
    invalidRequest(description: string): AuthFailure {
      return {
        ok: false,
        status: 400,
        error: "invalid_request",
        description,
        wwwAuthenticate: header([
          ["error", "invalid_request"],
          ["error_description", description],
          ["resource_metadata", metadataUrl],
        ]),
      };
    },
    insufficientScope(required: readonly string[]): AuthFailure {
      const description = `this operation needs the scope(s): ${required.join(" ")}`;
      return {
        ok: false,
        status: 403,
        error: "insufficient_scope",
        description,
        wwwAuthenticate: header([
          ["error", "insufficient_scope"],
          ["scope", required.join(" ")],
          ["resource_metadata", metadataUrl],
          ["error_description", description],
        ]),
      };
    },
  };
}
