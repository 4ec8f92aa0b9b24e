export { decodeHeaderValue, headerText } from "./headers.js";
export * from "./jsonrpc.js";
export {
  type Catalog,
  createMcpServer,
  type Exchange,
  InsufficientScopeError,
  McpErrorCode,
  type McpServer,
  type McpServerOptions,
  type ServerInfo,
  type SessionHooks,
} from "./server.js";
export {
  isStatelessVersion,
  isSupportedVersion,
  LATEST_SESSION_VERSION,
  negotiateVersion,
  type ProtocolVersion,
  SESSION_VERSIONS,
  STATELESS_VERSIONS,
  SUPPORTED_VERSIONS,
} from "./versions.js";
