export { type BodyResult, readBody } from "./body.js";
export { type HttpHandler, type HttpListener, listen } from "./server.js";
export { createStreamableHttpHandler, type StreamableHttpOptions } from "./streamable-http.js";
