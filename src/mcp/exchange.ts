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
 * One incoming request as the core sees it, whatever the transport:
 * cancellation, the caller, what the client can do, and how to talk back
 * (MCP 2025-11-25 basic/transports; MCP 2026-07-28 basic/transports for stateless requests).
 */
export interface Exchange {
  /** Aborted when the client cancels or goes away. */
  readonly signal: AbortSignal;
  /** The verified caller, when auth is on. */
  readonly identity?: Identity;
  /** A 2026-07-28 request (no session; input is requested through results). */
  readonly stateless: boolean;
  /** The client's capabilities (from `initialize` or the request's `_meta`). */
  readonly clientCapabilities: JsonObject;
  /** Minimum level of log notifications for this request; undefined sends none. */
  readonly logLevel: LogLevel | undefined;
  /** A request header (lower-case name), where the transport has headers. */
  readonly header?: (name: string) => string | undefined;
  /** Sends a notification related to this request (its response stream). */
  notify(method: string, params: JsonObject): void;
  /** Sends a server-to-client request related to this request (session eras only). */
  readonly request?: (method: string, params: JsonObject, signal: AbortSignal) => Promise<JsonObject>;
  /** The session, in session eras. */
  readonly session?: SessionHooks;
}
