export {
  type BackendHandle,
  type CallContext,
  type CallToolResult,
  callTool,
  type TextContent,
} from "./call.js";
export { describeRpcError } from "./rich-status.js";
export { STATUS_TABLE, type StatusMapping, statusMapping } from "./status-map.js";
export { type BackendProtocol, createBackendTransport, type TransportOptions } from "./transport.js";
export { type ArgumentValidator, createArgumentValidator } from "./validate.js";
