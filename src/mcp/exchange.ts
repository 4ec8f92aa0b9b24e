import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import type { LogLevel } from "../invoke/index.js";

/**
 * The per-session state a session-era request may change (MCP 2025-11-25
 * basic/lifecycle: log level from logging/setLevel, resource subscriptions).
 */
export interface SessionHooks {
  /** Minimum level of `notifications/message` (logging/setLevel). */
  readonly logLevel: LogLevel | undefined;
  /** Sets the minimum log level of the whole session, whichever replica serves its next request. */
  setLogLevel(level: LogLevel): void;
  /**
   * Starts the session's watch of a resource, ending any other watch of the
   * same URI it has, wherever it runs. The signal aborts on unsubscribe or
   * when the session ends; `end` says the watch stopped by itself.
   */
  subscribe(uri: string): { readonly signal: AbortSignal; end(): void };
  /** Ends the session's watch of `uri`, wherever it runs. */
  unsubscribe(uri: string): void;
  /** Sends a notification on the session's standalone stream (not tied to a request). */
  notify(method: string, params: JsonObject): void;
}

/**
 * The two eras of MCP: `session` (2024-11-05 … 2025-11-25: `initialize`, a session,
 * server-to-client requests) and `stateless` (MCP 2026-07-28 basic/lifecycle: every
 * request self-contained, carrying its version and capabilities in `_meta`).
 */
export type Era = "session" | "stateless";

/** What every request offers the core, in either era. */
interface ExchangeBase {
  /** Aborted when the client cancels or goes away. */
  readonly signal: AbortSignal;
  /** The verified caller, when auth is on. */
  readonly identity?: Identity;
  /** The client's capabilities (from `initialize` or the request's `_meta`). */
  readonly clientCapabilities: JsonObject;
  /** Minimum level of log notifications for this request; undefined sends none. */
  readonly logLevel: LogLevel | undefined;
  /** Sends a notification related to this request (its response stream). */
  notify(method: string, params: JsonObject): void;
  /** The W3C Trace Context of the HTTP request (`traceparent`, `tracestate` headers), when it carried one. */
  readonly traceHeaders?: TraceHeaders | undefined;
  /**
   * Metadata every backend call made for this request carries: the trace
   * context of the request's span (set by the tracing interceptor, src/observe).
   */
  readonly backendMetadata?: { readonly [key: string]: string } | undefined;
}

/** W3C Trace Context as headers or metadata (W3C Trace Context §3). */
export interface TraceHeaders {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/**
 * A 2026-07-28 request (MCP 2026-07-28 basic/transports): no session; input is
 * requested through `input_required` results, and the request's headers may
 * mirror its params (`Mcp-Param-*`, basic/transports "Request Headers").
 */
export interface StatelessExchange extends ExchangeBase {
  readonly era: "stateless";
  /** A request header (lower-case name); the first when repeated. */
  readonly header: (name: string) => string | undefined;
}

/**
 * A request of a session-era client (MCP 2025-11-25 basic/transports, and
 * 2024-11-05 HTTP+SSE): it belongs to a session and may ask the client
 * itself for input (elicitation, sampling, roots).
 */
export interface SessionExchange extends ExchangeBase {
  readonly era: "session";
  /**
   * The session. `initialize` runs before its session exists; its transport
   * passes hooks that refuse to be used.
   */
  readonly session: SessionHooks;
  /**
   * Sends a server-to-client request related to this request; absent when
   * nothing can reach the client before the response (a POST answered as JSON).
   */
  readonly request?: (method: string, params: JsonObject, signal: AbortSignal) => Promise<JsonObject>;
}

/**
 * One incoming request as the core sees it, whatever the transport, told apart
 * by `era`: cancellation, the caller, what the client can do, and how to talk back
 * (MCP 2025-11-25 basic/transports; MCP 2026-07-28 basic/transports for stateless requests).
 */
export type Exchange = StatelessExchange | SessionExchange;
