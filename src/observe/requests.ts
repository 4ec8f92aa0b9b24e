import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from "@opentelemetry/api";
import type { McpTransport } from "../http/index.js";
import {
  type Era,
  ErrorCode,
  type Exchange,
  InsufficientScopeError,
  type JsonRpcRequest,
  type JsonRpcResponse,
  limitOf,
  McpErrorCode,
  type McpInterceptor,
  nameParam,
  statelessHttpStatus,
} from "../mcp/index.js";
import type { Logger } from "./logger.js";
import type { GatewayMetrics } from "./metrics.js";
import { remoteParent, traceMetadata } from "./tracing.js";

/** Options of {@link observeRequests}; the parts left out are off. */
export interface RequestObserverOptions {
  readonly transport: McpTransport;
  /** One `info` line per request (`mcp request`), when the logger's level lets it through. */
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
  readonly tracer?: Tracer;
  /** Whether the core serves `method` in `era` (others are labelled `unknown`). */
  readonly knows: (method: string, era: Era) => boolean;
  /** Whether `name` is a tool of the catalog in use (others are labelled `unknown`). */
  readonly isTool: (name: string) => boolean;
}

/**
 * What became of a request: `ok`, `tool_error`, `input_required`, `cancelled`,
 * `insufficient_scope`, `limited` (refused over a limit per caller or per
 * session) or a JSON-RPC error code.
 */
export type Outcome = string;

/** pino's numeric value of `info`. */
const INFO = 30;

/**
 * The interceptor that observes each MCP request of one transport: a span
 * `mcp <method>` (child of the caller's trace context, from `params._meta`
 * per SEP-414 or from the HTTP headers), whose context is handed to backend
 * calls through `ex.backendMetadata`; the request metrics; and one log line.
 * Everything is computed once per request, after the response, from values
 * at hand: label values are the method table's names, catalog tools or fixed
 * outcome strings, never free text from the client.
 */
export function observeRequests(options: RequestObserverOptions): McpInterceptor {
  const { transport, logger, metrics, tracer, knows, isTool } = options;

  function finish(
    req: JsonRpcRequest,
    ex: Exchange,
    method: string,
    start: number,
    span: Span | undefined,
    response: JsonRpcResponse | undefined,
  ): void {
    const seconds = (performance.now() - start) / 1000;
    const error = response === undefined ? undefined : "error" in response ? response.error : undefined;
    const outcome = outcomeOf(ex, response);
    const key = nameParam(method);
    const raw = key === undefined ? undefined : req.params?.[key];
    const name = typeof raw === "string" ? raw : undefined;
    if (metrics) {
      const limit = outcome === "limited" && response ? limitOf(response) : undefined;
      if (limit) {
        // Not timed: refusals answered at once would drag every latency quantile down.
        metrics.limited(ex.era, method, limit.limit, limit.scope);
      } else {
        const tool = method === "tools/call" ? (name !== undefined && isTool(name) ? name : "unknown") : "";
        metrics.request(ex.era, method, tool, outcome, seconds);
        if (response === undefined) metrics.insufficientScope();
      }
    }
    if (span) {
      if (span.isRecording()) {
        span.setAttribute("mcp.method.name", method);
        span.setAttribute("mcp.era", ex.era);
        span.setAttribute("mcp.outcome", outcome);
        if (method === "tools/call" && name !== undefined) span.setAttribute("gen_ai.tool.name", name);
        if (error) span.setAttribute("rpc.jsonrpc.error_code", error.code);
        if (outcome !== "ok" && outcome !== "input_required") {
          span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message ?? outcome });
        }
      }
      span.end();
    }
    if (logger.levelVal > INFO) return;
    const line: { [key: string]: unknown } = {
      era: ex.era,
      transport,
      method: clip(req.method, 100),
      outcome,
      status: httpStatus(transport, req.method, response),
      ms: Math.round(seconds * 1e5) / 100,
      id: typeof req.id === "string" ? clip(req.id, 100) : req.id,
    };
    if (name !== undefined)
      line[key === "uri" ? "uri" : method === "prompts/get" ? "prompt" : "tool"] = clip(name, 200);
    if (error) line.error = clip(error.message, 300);
    if (ex.identity) line.subject = ex.identity.subject;
    if (span) {
      const context = span.spanContext();
      if (isSpanContextValid(context)) line.traceId = context.traceId;
    }
    logger.info(line, "mcp request");
  }

  return (next) => async (req, ex) => {
    const start = performance.now();
    const method = knows(req.method, ex.era) ? req.method : "unknown";
    let span: Span | undefined;
    let forwarded = ex;
    if (tracer) {
      span = tracer.startSpan(`mcp ${method}`, { kind: SpanKind.SERVER }, parentOf(req, ex));
      if (isSpanContextValid(span.spanContext())) forwarded = { ...ex, backendMetadata: traceMetadata(span) };
    }
    let response: JsonRpcResponse;
    try {
      response = await next(req, forwarded);
    } catch (err) {
      // A missing scope is answered by the transport (403, or a JSON-RPC error once a stream started).
      if (err instanceof InsufficientScopeError) finish(req, ex, method, start, span, undefined);
      else finish(req, ex, method, start, span, INTERNAL);
      throw err;
    }
    finish(req, ex, method, start, span, response);
    return response;
  };
}

/** What the transports answer for an error thrown by the core (other than a missing scope). */
const INTERNAL: JsonRpcResponse = {
  jsonrpc: "2.0",
  id: null,
  error: { code: ErrorCode.InternalError, message: "Internal error" },
};

/** The caller's trace context: `params._meta` (SEP-414) first, being the MCP client's own, else the HTTP headers. */
function parentOf(req: JsonRpcRequest, ex: Exchange): Context {
  const meta = req.params?._meta;
  if (
    typeof meta === "object" &&
    meta !== null &&
    typeof (meta as { traceparent?: unknown }).traceparent === "string"
  ) {
    return remoteParent(meta);
  }
  return ex.traceHeaders ? remoteParent(ex.traceHeaders) : ROOT_CONTEXT;
}

/** Error codes as label values, made once each. */
const CODES = new Map<number, string>();

/** The outcome of a request; `response` undefined means refused for a missing scope. */
export function outcomeOf(ex: Exchange, response: JsonRpcResponse | undefined): Outcome {
  if (response === undefined) return "insufficient_scope";
  if (ex.signal.aborted) return "cancelled";
  if ("error" in response) {
    const code = response.error.code;
    if (code === McpErrorCode.RequestLimited) return "limited";
    let label = CODES.get(code);
    if (label === undefined) {
      label = String(code);
      // Codes come from the gateway itself, but bound the map anyway.
      if (CODES.size < 64) CODES.set(code, label);
    }
    return label;
  }
  const result = response.result as { isError?: unknown; resultType?: unknown } | null;
  if (result?.isError === true) return "tool_error";
  if (result?.resultType === "input_required") return "input_required";
  return "ok";
}

/**
 * The HTTP status that carries a request's response on `transport`; `response`
 * undefined means refused for a missing scope (403 with a challenge, MCP
 * basic/authorization "Scope Challenge"; a reply already streaming carries a
 * JSON-RPC error instead, which this does not see).
 */
export function httpStatus(
  transport: McpTransport,
  method: string,
  response: JsonRpcResponse | undefined,
): number {
  switch (transport) {
    case "stateless":
      if (response === undefined) return 403;
      return "error" in response ? statelessHttpStatus(response.error.code) : 200;
    case "streamable":
      if (response === undefined) return 403;
      if (limited(response)) return 429;
      // A failed initialize creates no session: 400 (streamable.ts); everything else rides a 200.
      return method === "initialize" && "error" in response ? 400 : 200;
    case "legacy":
      // A request over a limit is refused before the POST is accepted (request-gate.ts).
      if (response !== undefined && limited(response)) return 429;
      // 2024-11-05: the POST is accepted at once; the response goes on the session's SSE stream.
      return 202;
  }
}

/** A refusal over a limit per caller or per session, answered 429 by every transport (request-gate.ts). */
function limited(response: JsonRpcResponse): boolean {
  return "error" in response && response.error.code === McpErrorCode.RequestLimited;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
