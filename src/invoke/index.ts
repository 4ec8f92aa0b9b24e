export { type BackendTls, readBackendTls, type TlsConnectOptions } from "./backend-tls.js";
export { callTool, invokeUnary } from "./call.js";
export type { BackendHandle, CallContext, Outcome, ProgressUpdate } from "./call-types.js";
export * from "./content.js";
export { createH2GrpcTransport, type H2GrpcTransport } from "./h2-grpc.js";
export { InflightLimit } from "./inflight.js";
export * from "./input.js";
export { cancelOperation, getOperation, type OperationState } from "./operations.js";
export { type RetryPolicy, withRetries } from "./retry.js";
export { describeRpcError } from "./rich-status.js";
export { checkStaticHeaders, type StaticHeaders } from "./static-headers.js";
export { STATUS_TABLE, type StatusMapping, statusMapping } from "./status-map.js";
export {
  type BackendProtocol,
  type BackendTransport,
  createBackendTransport,
  createReflectionTransport,
  type TransportOptions,
} from "./transport.js";
export { type ArgumentValidator, createArgumentValidator } from "./validate.js";
export {
  type CallHeader,
  type StreamCall,
  type TransportWrappers,
  type UnaryCall,
  wrapTransport,
} from "./wrap-transport.js";
