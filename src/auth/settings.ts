import type { Auth } from "../../gen/es/mcpengine/v1/config_pb.js";
import { ASYMMETRIC_ALGORITHMS, type AuthSettings } from "./types.js";

/** Defaults a preset fills in; explicit settings always win. */
interface Preset {
  readonly scopeClaims?: readonly string[];
  readonly algorithms?: readonly string[];
  readonly issuer?: string;
}

/**
 * Recipes for common IdPs. Each only fills defaults:
 * - keycloak: issuer `https://HOST/realms/REALM`; add an audience mapper so `aud` holds the MCP URL.
 * - okta: custom authorization server issuer `https://ORG.okta.com/oauth2/ID`; scopes in `scp`.
 * - auth0: issuer `https://TENANT.auth0.com/` (trailing slash); API identifier = audience; scopes in
 *   `scope`, RBAC permissions in `permissions`.
 * - entra: issuer `https://login.microsoftonline.com/TENANT/v2.0`; audience = the app ID URI; delegated
 *   scopes in `scp`, app roles in `roles`; RS256.
 * - google: issuer `https://accounts.google.com`; RS256.
 */
export const PRESETS: Readonly<Record<string, Preset>> = {
  keycloak: { scopeClaims: ["scope"] },
  okta: { scopeClaims: ["scp", "scope"] },
  auth0: { scopeClaims: ["scope", "permissions"] },
  entra: { scopeClaims: ["scp", "roles"], algorithms: ["RS256"] },
  google: { issuer: "https://accounts.google.com", scopeClaims: ["scope"], algorithms: ["RS256"] },
};

/** A problem with the `auth` section of the configuration. */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
}

const SYMMETRIC = /^HS/;

/** Checks the `auth` configuration and applies preset and defaults. */
export function authSettings(auth: Auth, where = "auth"): AuthSettings {
  const preset = auth.preset ? PRESETS[auth.preset] : {};
  if (!preset) {
    throw new AuthConfigError(
      `${where}.preset: unknown preset "${auth.preset}" (${Object.keys(PRESETS).join(", ")})`,
    );
  }
  const issuer = auth.issuer || preset.issuer || "";
  if (!/^https?:\/\//.test(issuer)) throw new AuthConfigError(`${where}.issuer: an http(s) URL is required`);
  if (!auth.audience)
    throw new AuthConfigError(`${where}.audience: the URL of this MCP resource is required`);
  // RFC 8707 / RFC 9728: the audience is this resource's URL; the metadata and challenges are built from it.
  if (!isHttpUrl(auth.audience)) {
    throw new AuthConfigError(
      `${where}.audience: must be the absolute http(s) URL of this MCP resource (e.g. "https://mcp.example.com/mcp"), got "${auth.audience}"`,
    );
  }
  const algorithms =
    auth.algorithms.length > 0 ? auth.algorithms : (preset.algorithms ?? ASYMMETRIC_ALGORITHMS);
  const bad = algorithms.filter((a) => a === "none" || SYMMETRIC.test(a));
  if (bad.length > 0) {
    throw new AuthConfigError(
      `${where}.algorithms: ${bad.join(", ")} cannot verify tokens from an IdP's public keys`,
    );
  }
  const clientId = auth.clientId || undefined;
  const clientSecret = auth.clientSecret || undefined;
  let introspection: AuthSettings["introspection"];
  if (auth.introspection) {
    const id = auth.introspection.clientId || clientId;
    const secret = auth.introspection.clientSecret || clientSecret;
    if (!id || !secret)
      throw new AuthConfigError(`${where}.introspection: client_id and client_secret are required`);
    introspection = {
      clientId: id,
      clientSecret: secret,
      ...(auth.introspection.endpoint ? { endpoint: auth.introspection.endpoint } : {}),
    };
  }
  const seconds = (d: { seconds: bigint; nanos: number } | undefined, dflt: number) =>
    d ? Number(d.seconds) + d.nanos / 1e9 : dflt;
  return {
    issuer,
    audience: auth.audience,
    ...(auth.jwksUri ? { jwksUri: auth.jwksUri } : {}),
    algorithms,
    clockSkewSeconds: seconds(auth.clockSkew, 60),
    requireTyp: auth.requireTyp,
    scopeClaims: auth.scopeClaims.length > 0 ? auth.scopeClaims : (preset.scopeClaims ?? ["scope", "scp"]),
    ...(introspection ? { introspection } : {}),
    scopesSupported: auth.scopesSupported,
    ...(auth.resourceName ? { resourceName: auth.resourceName } : {}),
    cacheSize: auth.cacheSize || 10_000,
    jwksCooldownMs: seconds(auth.jwksCooldown, 30) * 1000,
    ...(clientId ? { clientId } : {}),
    ...(clientSecret ? { clientSecret } : {}),
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}
