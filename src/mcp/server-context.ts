import type { JsonObject } from "@bufbuild/protobuf";
import { createStateSealer } from "../invoke/index.js";
import { callContext } from "./call-context.js";
import {
  type Catalog,
  type ChangedList,
  changedLists,
  createCatalogView,
  type ListKey,
  listPage,
} from "./catalog-view.js";
import { InsufficientScopeError } from "./errors.js";
import type { Exchange } from "./exchange.js";
import { ErrorCode, JsonRpcError, type RequestId } from "./jsonrpc.js";
import type { McpServerOptions } from "./options.js";
import { createTaskService, localTasks, type TaskContext } from "./tasks/index.js";

/**
 * What every method handler shares: the catalog in use, the server's options,
 * scope checks (MCP 2025-11-25 basic/authorization) and the pieces of a backend call.
 */
export interface ServerContext extends TaskContext {
  readonly options: McpServerOptions;
  /** Open subscriptions/listen streams, ended gracefully by close(). */
  readonly listening: Set<AbortController>;
  /** Told which lists changed each time another catalog is served (subscriptions/listen streams). */
  readonly listWatchers: Set<(changed: readonly ChangedList[]) => void>;
  /** Whether the caller holds every scope in `required` (always, when scopes are not enforced). */
  allowed(required: readonly string[], ex: Exchange): boolean;
  /** Throws {@link InsufficientScopeError} unless the caller holds every scope in `required`. */
  demand(required: readonly string[], ex: Exchange): void;
  /** One page of a list, showing only what the caller may use (MCP 2025-11-25 server/utilities/pagination). */
  page(key: ListKey, params: JsonObject, ex: Exchange): { [k: string]: unknown };
}

/** A {@link ServerContext} and the one way to change it: serving another catalog (its lists may change, MCP 2025-11-25 server/tools "List Changed Notification"). */
export interface ServerState {
  readonly context: ServerContext;
  /** Serves `catalog` from the next request on; returns the lists that changed (after telling the list watchers). */
  setCatalog(catalog: Catalog): readonly ChangedList[];
}

/** Builds the context the handlers of {@link createMcpServer} share, for one catalog at a time. */
export function createServerContext(options: McpServerOptions): ServerState {
  const enforce = options.enforceScopes === true;
  const pageSize = options.pageSize ?? 100;
  let cat = createCatalogView(options);

  function allowed(required: readonly string[], ex: Exchange): boolean {
    if (!enforce || required.length === 0) return true;
    const held = ex.identity?.scopes;
    return required.every((s) => held?.has(s));
  }

  const context: ServerContext = {
    get catalog() {
      return cat;
    },
    options,
    input: { sealer: createStateSealer(options.stateKey), maxRounds: options.maxInputRounds ?? 8 },
    // Local runs, and the kinds the options add (see tasks/types.ts).
    tasks: createTaskService(options.tasks ?? {}, [localTasks]),
    listening: new Set(),
    listWatchers: new Set(),
    allowed,
    demand(required, ex) {
      if (!allowed(required, ex)) throw new InsufficientScopeError(required);
    },
    page(key, params, ex) {
      const all = cat.lists[key];
      // Without enforcement everything is visible: skip the copy.
      const visible = enforce ? all.filter((e) => allowed(e.def.scopes, ex)) : all;
      return listPage(key, visible, params.cursor, pageSize);
    },
    backendOf(def) {
      const backend = cat.backends.get(def.backend);
      if (!backend) throw new JsonRpcError(ErrorCode.InternalError, `No backend "${def.backend}"`);
      return backend;
    },
    callContext(backend, id, params, ex) {
      return callContext(options.backendHeaders, backend, id, params, ex);
    },
  };
  return {
    context,
    setCatalog(catalog) {
      const before = cat;
      cat = createCatalogView(catalog);
      const changed = changedLists(before, cat);
      if (changed.length > 0) for (const watch of context.listWatchers) watch(changed);
      return changed;
    },
  };
}

/** One request as a handler receives it: its id, its params (an object, possibly empty) and its exchange (JSON-RPC 2.0 §4; MCP 2025-11-25 basic "Requests"). */
export interface MethodCall {
  readonly id: RequestId;
  readonly params: JsonObject;
  readonly ex: Exchange;
}

/** Answers one method: its result, or a thrown {@link JsonRpcError} / {@link InsufficientScopeError} (MCP 2025-11-25 basic "Responses"). */
export type Handler = (call: MethodCall, ctx: ServerContext) => object | Promise<object>;
