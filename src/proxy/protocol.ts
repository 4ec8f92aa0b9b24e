import type { JsonRpcMessage } from "./types.js";

/** MCP protocol names the proxy's parts share (one place, so the eras' translators agree). */

/** `_meta` keys of MCP 2026-07-28 (basic/lifecycle, server/resources "Subscriptions"). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

/** Session-era protocol versions a host may ask for, newest first (MCP basic/lifecycle). */
export const SESSION_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** The host's version if the proxy can answer in it, else the newest session version. */
export function sessionVersion(asked: unknown): string {
  return typeof asked === "string" && (SESSION_VERSIONS as readonly string[]).includes(asked)
    ? asked
    : SESSION_VERSIONS[0];
}

/** A response (success or error) rather than a request or notification (JSON-RPC 2.0 §5). */
export function isResponse(m: JsonRpcMessage): boolean {
  return m.method === undefined && ("result" in m || "error" in m);
}
