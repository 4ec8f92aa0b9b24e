import type { JsonObject } from "@bufbuild/protobuf";
import type { Catalog, ChangedList } from "./catalog-view.js";
import { InsufficientScopeError } from "./errors.js";
import type { Era, Exchange } from "./exchange.js";
import {
  ErrorCode,
  failure,
  JsonRpcError,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
  success,
} from "./jsonrpc.js";
import { methodSpec } from "./methods.js";
import type { McpServerOptions } from "./options.js";
import { createServerContext } from "./server-context.js";

/** The protocol core: maps JSON-RPC requests to results, independent of any transport (MCP 2025-11-25 basic). */
export interface McpServer {
  /** Answers a request. */
  handle(request: JsonRpcRequest & { id: RequestId }, ex: Exchange): Promise<JsonRpcResponse>;
  /** Reports whether a method exists in an era (transports answer unknown ones before reading more). */
  knows(method: string, era: Era): boolean;
  /** Ends open subscriptions gracefully (their listen requests complete) and the tasks running here (they fail). */
  close(): void;
  /**
   * Serves another catalog from the next request on (requests in flight finish with theirs);
   * returns the lists that changed, already announced on subscriptions/listen streams.
   */
  setCatalog(catalog: Catalog): readonly ChangedList[];
}

/** The core's answer to one request, as transports call it: {@link McpServer.handle}. */
export type McpHandle = McpServer["handle"];

/**
 * Cross-cutting work around the core (metrics, traces, logs, limits), as
 * `(next) => async (request, ex) => …`: it may look at the request and the
 * exchange, pass another exchange on, and look at the response or the error
 * (an {@link InsufficientScopeError} is thrown through it to the transport).
 */
export type McpInterceptor = (next: McpHandle) => McpHandle;

/**
 * `server` with `interceptors` around its `handle`, the first outermost; the
 * rest (`knows`, `close`, `setCatalog`) is the server's own. Without
 * interceptors, `server` itself.
 */
export function withInterceptors(server: McpServer, interceptors: readonly McpInterceptor[]): McpServer {
  if (interceptors.length === 0) return server;
  const handle = interceptors.reduceRight<McpHandle>((next, intercept) => intercept(next), server.handle);
  return {
    handle,
    knows: server.knows,
    close: server.close,
    setCatalog: server.setCatalog,
  };
}

/**
 * Creates the MCP protocol core for a catalog: each request is looked up in the
 * method table (methods.ts) for its era and answered by the method's handler.
 * Wire forms of the catalog are built once: they only change when the catalog does.
 */
export function createMcpServer(options: McpServerOptions): McpServer {
  const state = createServerContext(options);
  const ctx = state.context;
  /** MCP 2026-07-28 basic/utilities "Caching": results that depend on the caller's scopes are private. */
  const cacheScope = options.enforceScopes === true ? "private" : "public";

  return {
    close() {
      for (const stop of ctx.listening) stop.abort();
      ctx.tasks.close();
    },
    setCatalog(catalog) {
      return state.setCatalog(catalog);
    },
    knows(method, era) {
      return methodSpec(method, era) !== undefined;
    },
    async handle(req, ex) {
      try {
        const spec = methodSpec(req.method, ex.era);
        if (!spec) throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method}`);
        // Parsed JSON has no undefined members; the request type allows them for callers building one.
        const params = (req.params ?? {}) as JsonObject;
        const result = (await spec.handler({ id: req.id, params, ex }, ctx)) as { [k: string]: unknown };
        if (ex.era === "stateless") {
          // MCP 2026-07-28: every result says whether it is complete; cacheable ones say for how long.
          if (result.resultType === undefined) result.resultType = "complete";
          if (spec.ttlMs !== undefined && result.resultType === "complete") {
            result.ttlMs = spec.ttlMs;
            result.cacheScope = cacheScope;
          }
        }
        return success(req.id, result);
      } catch (err) {
        // Transports answer a missing scope at the HTTP layer (403 with a challenge).
        if (err instanceof InsufficientScopeError) throw err;
        if (err instanceof JsonRpcError) return failure(req.id, err.code, err.message, err.data);
        return failure(req.id, ErrorCode.InternalError, "Internal error");
      }
    },
  };
}
