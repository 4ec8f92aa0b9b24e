import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type TextMapPropagator,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { VERSION } from "../version.js";

/**
 * Tracing through `@opentelemetry/api` alone. Without an SDK the API is a
 * no-op: spans record nothing, but a span started under a remote parent
 * carries that parent's context, so a `traceparent` that came in goes on to
 * the backends unchanged. An SDK the operator registers (its tracer provider,
 * its propagators) is used from then on, without a restart: the API's tracer
 * is a proxy that finds it.
 *
 * Context travels explicitly (house style): the MCP request's span context
 * rides on the exchange as the metadata of its backend calls (`traceparent`,
 * `tracestate`, W3C Trace Context §3), and the backend decorator reads it back
 * from the call's metadata. No context manager (AsyncLocalStorage) is needed.
 */

/** W3C Trace Context, the API's default had an SDK registered it; the API alone has none. */
const W3C = new W3CTraceContextPropagator();

/** The propagator an SDK registered, else W3C Trace Context (the API's own is a no-op). */
function propagator(): TextMapPropagator {
  return propagation.fields().length > 0 ? propagation : W3C;
}

/** The gateway's tracer (instrumentation scope `mcpengine`). */
export function gatewayTracer(): Tracer {
  return trace.getTracer("mcpengine", VERSION);
}

/**
 * The context of a remote parent found in `carrier` — HTTP headers, gRPC
 * metadata or an MCP `_meta` object (SEP-414 reserves `traceparent` and
 * `tracestate` there) — or the root context when there is none or it is malformed.
 */
export function remoteParent(carrier: object): Context {
  return propagator().extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** The metadata that makes `span` the parent of a call (`traceparent`, `tracestate`); empty when it has no valid context. */
export function traceMetadata(span: Span): { [key: string]: string } {
  const out: { [key: string]: string } = {};
  propagator().inject(trace.setSpan(ROOT_CONTEXT, span), out, defaultTextMapSetter);
  return out;
}
