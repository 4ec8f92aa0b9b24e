export { type BodyResult, readBody } from "./body.js";
export { createMetadataHandler } from "./metadata.js";
export { type HttpHandler, type HttpListener, listen } from "./server.js";
export { createStreamableHttpHandler, refuse, type StreamableHttpOptions } from "./streamable-http.js";
