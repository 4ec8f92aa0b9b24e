/**
 * Protocol revisions the gateway speaks, newest first. 2026-07-28 is
 * stateless (every request carries its version and capabilities in `_meta`);
 * the session revisions negotiate through `initialize` (MCP 2025-11-25,
 * basic/lifecycle "Version Negotiation"); 2024-11-05 is HTTP+SSE.
 */
export const SUPPORTED_VERSIONS = [
  "2026-07-28",
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
] as const;

/** The stateless revisions (MCP 2026-07-28, basic/lifecycle). */
export const STATELESS_VERSIONS: readonly string[] = ["2026-07-28"];

/** Revisions negotiated by `initialize`, newest first. */
export const SESSION_VERSIONS: readonly string[] = SUPPORTED_VERSIONS.filter(
  (v) => !STATELESS_VERSIONS.includes(v),
);

/** One supported protocol revision. */
export type ProtocolVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The session revision answered when a client asks for one we do not know. */
export const LATEST_SESSION_VERSION = "2025-11-25";

/** Reports whether a revision string is one we support. */
export function isSupportedVersion(v: unknown): v is ProtocolVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Reports whether a revision is stateless (2026-07-28 and later). */
export function isStatelessVersion(v: unknown): boolean {
  return typeof v === "string" && STATELESS_VERSIONS.includes(v);
}

/**
 * Picks the revision for a session: the client's if it is a session revision
 * we support, otherwise our latest; the client then decides whether it can
 * continue (basic/lifecycle "Version Negotiation").
 */
export function negotiateVersion(requested: unknown): string {
  return typeof requested === "string" && SESSION_VERSIONS.includes(requested)
    ? requested
    : LATEST_SESSION_VERSION;
}
