export type { Catalog, ChangedList } from "./catalog-view.js";
export {
  InsufficientScopeError,
  insufficientScopeFailure,
  limitOf,
  McpErrorCode,
  type RequestLimitedData,
  requestLimited,
  statelessHttpStatus,
} from "./errors.js";
export type {
  Era,
  Exchange,
  SessionExchange,
  SessionHooks,
  StatelessExchange,
  TraceHeaders,
} from "./exchange.js";
export { decodeHeaderValue, headerText } from "./headers.js";
export * from "./jsonrpc.js";
export { nameParam } from "./methods.js";
export type { McpServerOptions, ServerInfo } from "./options.js";
export {
  createMcpServer,
  type McpHandle,
  type McpInterceptor,
  type McpServer,
  withInterceptors,
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
