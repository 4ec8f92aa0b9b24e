export { type BodyResult, readBody } from "./body.js";
export { createMetadataHandler } from "./metadata.js";
export { createOriginPolicy, type OriginPolicy } from "./origin.js";
export { type HttpHandler, type HttpListener, listen } from "./server.js";
export {
  createMcpHttp,
  DEFAULT_SESSION_LIMITS,
  type McpHttp,
  refuse,
  type SessionLimits,
  type StreamableHttpOptions,
} from "./streamable-http.js";
