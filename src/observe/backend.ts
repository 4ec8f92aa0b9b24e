import type { DescMessage, DescMethod, DescMethodStreaming, MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
} from "@connectrpc/connect";
import { isSpanContextValid, type Span, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { type CallHeader, STATUS_TABLE, wrapTransport } from "../invoke/index.js";
import type { Logger } from "./logger.js";
import type { GatewayMetrics } from "./metrics.js";
import { remoteParent, traceMetadata } from "./tracing.js";

/** The gRPC status of a call that succeeded (Connect's `Code` names only failures). */
const OK = 0;

/** Options of {@link observeTransport}; the parts left out are off. */
export interface BackendObserverOptions {
  /** The backend's name in the configuration (the `backend` label). */
  readonly backend: string;
  /** Failed calls are logged (`backend call failed`). */
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
  readonly tracer?: Tracer;
}

/**
 * Codes that say the backend (or the way to it) failed, logged at `warn`.
 * The others answer the caller's request — a missing record, bad input, a
 * refusal, an input request — and are logged at `debug`: at `warn` they
 * would drown the failures an operator must act on.
 */
const BACKEND_FAULTS: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/** `package.Service/Method` of each method, made once (the `method` label and span name). */
const RPC_NAMES = new WeakMap<DescMethod, string>();

function rpcName(method: DescMethod): string {
  let name = RPC_NAMES.get(method);
  if (name === undefined) {
    name = `${method.parent.typeName}/${method.name}`;
    RPC_NAMES.set(method, name);
  }
  return name;
}

/**
 * A transport to one backend that measures, traces and logs each RPC: the
 * `mcpengine_backend_rpc_duration_seconds` histogram by gRPC status code, a
 * client span `grpc <service>/<method>` (OpenTelemetry RPC conventions) under
 * the MCP request's span, whose context replaces the request's in the call's
 * `traceparent`/`tracestate` metadata, and a log line for a failure. A call
 * whose metadata carries no trace context (no SDK and no caller's trace) gets
 * no span at all. A server-streaming call is over when its messages are.
 */
export function observeTransport(inner: Transport, options: BackendObserverOptions): Transport {
  const { backend, logger, metrics, tracer } = options;

  function spanFor(method: DescMethod, header: CallHeader | undefined): Span | undefined {
    if (!tracer || header === undefined) return undefined;
    const parent = traceHeadersIn(header);
    if (parent === undefined) return undefined;
    const span = tracer.startSpan(
      `grpc ${rpcName(method)}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": method.parent.typeName,
          "rpc.method": method.name,
          "mcpengine.backend": backend,
        },
      },
      remoteParent(parent),
    );
    return span;
  }

  /** The call's metadata with this span as the backend's parent; as is when the span records nothing. */
  function withSpan(header: CallHeader | undefined, span: Span | undefined): CallHeader | undefined {
    if (!span?.isRecording() || !isSpanContextValid(span.spanContext())) return header;
    const trace = traceMetadata(span);
    if (header === undefined || (!(header instanceof Headers) && !Array.isArray(header))) {
      // The invoker's form: a plain record, copied (it may be reused for another round).
      return { ...header, ...trace };
    }
    const merged = new Headers(header);
    for (const [k, v] of Object.entries(trace)) merged.set(k, v);
    return merged;
  }

  function done(method: DescMethod, start: number, span: Span | undefined, err: unknown): void {
    // `err` undefined: the call succeeded.
    const code = err === undefined ? OK : ConnectError.from(err).code;
    const name = code === OK ? "OK" : STATUS_TABLE[code].name;
    metrics?.backendCall(backend, rpcName(method), name, (performance.now() - start) / 1000);
    if (span) {
      if (span.isRecording()) {
        span.setAttribute("rpc.grpc.status_code", code);
        if (code !== OK) span.setStatus({ code: SpanStatusCode.ERROR, message: name });
      }
      span.end();
    }
    if (code === OK) return;
    const level = BACKEND_FAULTS.has(code) ? "warn" : "debug";
    if (!logger.isLevelEnabled(level)) return;
    const message = err instanceof Error ? ConnectError.from(err).rawMessage : String(err);
    logger[level]({ backend, rpc: rpcName(method), code: name, error: message }, "backend call failed");
  }

  return wrapTransport(inner, {
    unary: (next) => (method, signal, timeoutMs, header, input, contextValues) => {
      const start = performance.now();
      const span = spanFor(method, header);
      let call: ReturnType<typeof next<typeof method.input, typeof method.output>>;
      try {
        call = next(method, signal, timeoutMs, withSpan(header, span), input, contextValues);
      } catch (err) {
        call = Promise.reject(err);
      }
      // `then` rather than an async function: one promise less per call.
      return call.then(
        (res) => {
          done(method, start, span, undefined);
          return res;
        },
        (err: unknown) => {
          done(method, start, span, err);
          throw err;
        },
      );
    },
    stream: (next) =>
      async function observedStream<I extends DescMessage, O extends DescMessage>(
        method: DescMethodStreaming<I, O>,
        signal: AbortSignal | undefined,
        timeoutMs: number | undefined,
        header: CallHeader | undefined,
        input: AsyncIterable<MessageInitShape<I>>,
        contextValues?: ContextValues,
      ): Promise<StreamResponse<I, O>> {
        const start = performance.now();
        const span = spanFor(method, header);
        let res: StreamResponse<I, O>;
        try {
          res = await next(method, signal, timeoutMs, withSpan(header, span), input, contextValues);
        } catch (err) {
          done(method, start, span, err);
          throw err;
        }
        return {
          ...res,
          message: observedMessages(res.message, (failure) => done(method, start, span, failure)),
        };
      },
  });
}

/**
 * `messages`, with `end(failure)` called once when they end (`undefined`),
 * fail (the error), or the reader stops early (CANCELLED). An iterator of its
 * own rather than an async generator: one promise per message instead of a
 * generator's several, on the relay's path.
 */
function observedMessages<T>(messages: AsyncIterable<T>, end: (failure: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = messages[Symbol.asyncIterator]();
      let over = false;
      const finish = (failure: unknown) => {
        if (over) return;
        over = true;
        end(failure);
      };
      return {
        next: () =>
          inner.next().then(
            (r) => {
              if (r.done) finish(undefined);
              return r;
            },
            (err: unknown) => {
              finish(err);
              throw err;
            },
          ),
        return: (value?: unknown) => {
          finish(new ConnectError("stopped reading", Code.Canceled));
          return inner.return
            ? inner.return(value)
            : Promise.resolve({ done: true as const, value: value as T });
        },
      };
    },
  };
}

/** The `traceparent`/`tracestate` of a call's metadata, in whichever form it was given. */
function traceHeadersIn(
  header: NonNullable<CallHeader>,
): { traceparent: string; tracestate?: string } | undefined {
  let traceparent: string | null | undefined;
  let tracestate: string | null | undefined;
  if (header instanceof Headers || Array.isArray(header)) {
    const h = header instanceof Headers ? header : new Headers(header);
    traceparent = h.get("traceparent");
    tracestate = h.get("tracestate");
  } else {
    // The invoker's form: a plain record of strings.
    const tp = header.traceparent;
    const ts = header.tracestate;
    traceparent = typeof tp === "string" ? tp : undefined;
    tracestate = typeof ts === "string" ? ts : undefined;
  }
  if (!traceparent) return undefined;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
