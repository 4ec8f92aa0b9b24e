/**
 * Which scopes a login asks for (MCP authorization, "Scope Selection
 * Strategy" and "Step-Up Authorization Flow").
 */

/** What the scopes of a login are chosen from. */
export interface ScopeSources {
  /** The `scope` of the server's challenge (401 or 403 `insufficient_scope`). */
  readonly challenged?: readonly string[];
  /** `scopes_supported` of the protected resource metadata (RFC 9728 §2). */
  readonly resourceScopes?: readonly string[];
  /** Scopes of the token in hand, kept on a step-up so nothing granted is lost. */
  readonly granted?: readonly string[];
  /** Scopes the user asked for (`--scope`). */
  readonly extra?: readonly string[];
  /** `scopes_supported` of the authorization server metadata (RFC 8414 §2). */
  readonly serverScopes?: readonly string[];
}

/**
 * The challenge's scopes, else the resource's `scopes_supported`, else none;
 * plus what was granted before and what the user added; plus `offline_access`
 * when the authorization server lists it, so the login yields a refresh token.
 * An empty list means: send no `scope` at all (the server's default).
 */
export function selectScopes(sources: ScopeSources): string[] {
  const base = sources.challenged?.length ? sources.challenged : (sources.resourceScopes ?? []);
  const scopes = new Set([...base, ...(sources.granted ?? []), ...(sources.extra ?? [])]);
  if (sources.serverScopes?.includes("offline_access")) scopes.add("offline_access");
  return [...scopes];
}

/** Whether `granted` includes every scope of `needed`. */
export function covers(granted: readonly string[], needed: readonly string[]): boolean {
  const have = new Set(granted);
  return needed.every((s) => have.has(s));
}
