/**
 * Protocol revisions the gateway speaks, newest first. The session-based
 * Streamable HTTP revisions (2025-03-26 and later) negotiate through
 * `initialize` (MCP 2025-11-25, basic/lifecycle "Version Negotiation").
 */
export const SUPPORTED_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** One supported protocol revision. */
export type ProtocolVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The revision answered when a client asks for one we do not know. */
export const LATEST_VERSION: ProtocolVersion = SUPPORTED_VERSIONS[0];

/** Reports whether a revision string is one we support. */
export function isSupportedVersion(v: unknown): v is ProtocolVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/**
 * Picks the revision for a session: the client's if supported, otherwise our
 * latest; the client then decides whether it can continue (basic/lifecycle).
 */
export function negotiateVersion(requested: unknown): ProtocolVersion {
  return isSupportedVersion(requested) ? requested : LATEST_VERSION;
}
