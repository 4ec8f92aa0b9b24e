export * from "./jsonrpc.js";
export {
  createMcpServer,
  InsufficientScopeError,
  type McpServer,
  type McpServerOptions,
  type RequestContext,
  type ServerInfo,
} from "./server.js";
export {
  isSupportedVersion,
  LATEST_VERSION,
  negotiateVersion,
  type ProtocolVersion,
  SUPPORTED_VERSIONS,
} from "./versions.js";
