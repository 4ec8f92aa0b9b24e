import type { IncomingMessage } from "node:http";
import type { Exchange, TraceHeaders } from "../mcp/index.js";
import { header } from "./reply.js";

/**
 * The W3C Trace Context of an HTTP request (W3C Trace Context §3.2, §3.3),
 * as received; undefined without a `traceparent`. Checked by the tracing
 * interceptor, which ignores a malformed one.
 */
export function traceHeadersOf(req: IncomingMessage): TraceHeaders | undefined {
  const traceparent = header(req, "traceparent");
  if (traceparent === undefined) return undefined;
  // Several tracestate headers are one list (§3.3.1.1): Node joins them with ", ".
  const raw = req.headers.tracestate;
  const tracestate = Array.isArray(raw) ? raw.join(",") : raw;
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** `ex` with the request's trace context, when the request carried one (most do not: no copy then). */
export function withTraceHeaders<E extends Exchange>(ex: E, req: IncomingMessage): E {
  const traceHeaders = traceHeadersOf(req);
  return traceHeaders ? { ...ex, traceHeaders } : ex;
}
