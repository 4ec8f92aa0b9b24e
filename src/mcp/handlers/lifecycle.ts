import { LOG_LEVELS, type LogLevel } from "../../invoke/index.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { negotiateVersion, SUPPORTED_VERSIONS } from "../versions.js";

/**
 * MCP 2025-11-25 basic/lifecycle "Initialization": the negotiated version, the
 * server's capabilities and identity. The transport creates the session.
 */
export function initialize({ params }: MethodCall, ctx: ServerContext): object {
  const { info, instructions } = ctx.options;
  return {
    protocolVersion: negotiateVersion(params.protocolVersion),
    capabilities: ctx.catalog.sessionCapabilities,
    serverInfo: info,
    ...(instructions !== undefined ? { instructions } : {}),
  };
}

/**
 * MCP 2026-07-28 basic/lifecycle, `server/discover`: what `initialize`
 * told a session-era client, for clients that have no session.
 */
export function discover(_call: MethodCall, ctx: ServerContext): object {
  const { info, instructions } = ctx.options;
  return {
    supportedVersions: [...SUPPORTED_VERSIONS],
    capabilities: ctx.catalog.statelessCapabilities,
    ...(instructions ? { instructions } : {}),
    _meta: { "io.modelcontextprotocol/serverInfo": { ...info } },
  };
}

/** MCP 2025-11-25 basic/utilities/ping: an empty result. */
export function ping(): object {
  return {};
}

/** MCP 2025-11-25 server/utilities/logging "Setting Log Level": the session's minimum level. */
export function setLevel({ params, ex }: MethodCall): object {
  const level = params.level;
  if (typeof level !== "string" || !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new JsonRpcError(ErrorCode.InvalidParams, `level must be one of ${LOG_LEVELS.join(", ")}`);
  }
  if (ex.era === "session") ex.session.setLogLevel(level as LogLevel);
  return {};
}
