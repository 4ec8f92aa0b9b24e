import { type DescMethodServerStreaming, fromJson, type JsonObject, toJson } from "@bufbuild/protobuf";
import type { Identity } from "../../auth/index.js";
import type { Bound } from "../../catalog/index.js";
import type { ChangedList } from "../catalog-view.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { declaresTasks, missingTasksExtension, type TaskWatches, watchTasks } from "../tasks/index.js";

/** `_meta` key tagging every message of a subscriptions/listen stream (MCP 2026-07-28 basic/patterns/subscriptions). */
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/**
 * MCP 2025-11-25 server/resources "Subscriptions": the watch RPC runs until
 * unsubscribe or session end; updates go out on the session's stream.
 */
export function subscribe({ params, ex }: MethodCall, ctx: ServerContext): object {
  const uri = params.uri;
  const watch = ctx.catalog.surface.subscription;
  // Without a watch RPC the capability is not announced: the method does not exist here.
  if (!watch || ex.era !== "session")
    throw new JsonRpcError(ErrorCode.MethodNotFound, "Method not found: resources/subscribe");
  const session = ex.session;
  if (typeof uri !== "string") throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
  ctx.demand(watch.scopes, ex);
  // Subscribing again replaces the watch: one per URI.
  const running = session.subscribe(uri);
  void watchResource(ctx, watch, uri, running.signal, ex.identity, (updated) =>
    session.notify("notifications/resources/updated", { uri: updated }),
  ).finally(running.end);
  return {};
}

/** MCP 2025-11-25 server/resources "Subscriptions": ends the watch of one URI. */
export function unsubscribe({ params, ex }: MethodCall, ctx: ServerContext): object {
  if (!ctx.catalog.surface.subscription || ex.era !== "session") {
    throw new JsonRpcError(ErrorCode.MethodNotFound, "Method not found: resources/unsubscribe");
  }
  if (typeof params.uri !== "string")
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
  ex.session.unsubscribe(params.uri);
  return {};
}

/**
 * MCP 2026-07-28 basic/patterns/subscriptions: a long-lived stream that is
 * acknowledged first, then carries the requested notifications, each tagged
 * with the subscription id, until the client closes it or the gateway stops:
 * list changes (the catalog changes when a late backend comes up or on a
 * reload), resource updates, and the caller's tasks (`taskIds`, extension
 * io.modelcontextprotocol/tasks: `notifications/tasks` with the full task on
 * each change, SEP-2663 "Task Status Notifications").
 */
export async function listen({ id, params, ex }: MethodCall, ctx: ServerContext): Promise<object> {
  const filter = params.notifications;
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.notifications must be an object");
  }
  const requested = Array.isArray(filter.resourceSubscriptions) ? filter.resourceSubscriptions : [];
  const uris = requested.filter((u): u is string => typeof u === "string");
  const watch = ctx.catalog.surface.subscription;
  if (watch && uris.length > 0) ctx.demand(watch.scopes, ex);
  if (filter.taskIds !== undefined && !declaresTasks(ex))
    throw missingTasksExtension("notifications.taskIds");
  const meta = { [SUBSCRIPTION_ID]: id };
  const taskIds = Array.isArray(filter.taskIds)
    ? filter.taskIds.filter((t): t is string => typeof t === "string")
    : undefined;
  const tasks: TaskWatches | undefined = taskIds
    ? await watchTasks(ctx.tasks, taskIds, ex, (task) =>
        ex.notify("notifications/tasks", { ...task, _meta: meta }),
      )
    : undefined;
  // Every list may change (a late backend, a reload): each list-changed kind asked for is honoured.
  const lists = LIST_FILTERS.filter(([key]) => filter[key] === true);
  const acknowledged: JsonObject = Object.fromEntries(lists.map(([key]) => [key, true]));
  if (watch && uris.length > 0) acknowledged.resourceSubscriptions = uris;
  if (tasks) acknowledged.taskIds = [...tasks.taskIds];
  ex.notify("notifications/subscriptions/acknowledged", { _meta: meta, notifications: acknowledged });
  tasks?.start();
  const stop = new AbortController();
  const end = () => stop.abort();
  ex.signal.addEventListener("abort", end, { once: true });
  ctx.listening.add(stop);
  const onChange = (changed: readonly ChangedList[]) => {
    for (const [, list] of lists) {
      if (changed.includes(list)) ex.notify(`notifications/${list}/list_changed`, { _meta: meta });
    }
  };
  if (lists.length > 0) ctx.listWatchers.add(onChange);
  try {
    if (watch) {
      for (const uri of new Set(uris)) {
        void watchResource(ctx, watch, uri, stop.signal, ex.identity, (updated) =>
          ex.notify("notifications/resources/updated", { _meta: meta, uri: updated }),
        );
      }
    }
    if (!stop.signal.aborted) await new Promise((resolve) => stop.signal.addEventListener("abort", resolve));
  } finally {
    tasks?.stop();
    ctx.listWatchers.delete(onChange);
    ctx.listening.delete(stop);
    ex.signal.removeEventListener("abort", end);
  }
  return { _meta: meta };
}

/** The list-changed members of a subscriptions/listen filter, and the list each one is about. */
const LIST_FILTERS: readonly (readonly [string, ChangedList])[] = [
  ["toolsListChanged", "tools"],
  ["promptsListChanged", "prompts"],
  ["resourcesListChanged", "resources"],
];

/** Runs the watch RPC for one URI until `signal` aborts, reporting each update. */
async function watchResource(
  ctx: ServerContext,
  watch: Bound,
  uri: string,
  signal: AbortSignal,
  identity: Identity | undefined,
  onUpdate: (uri: string) => void,
): Promise<void> {
  try {
    const headers = await ctx.options.backendHeaders?.(watch.backend, identity);
    const method = watch.method as DescMethodServerStreaming;
    const res = await ctx.backendOf(watch).transport.stream(
      method,
      signal,
      undefined,
      headers,
      (async function* () {
        yield fromJson(method.input, { uri });
      })(),
    );
    for await (const msg of res.message) {
      const update = toJson(method.output, msg) as JsonObject;
      onUpdate(typeof update.uri === "string" && update.uri ? update.uri : uri);
    }
  } catch {
    // The watch ended (unsubscribed, closed or backend gone): nothing to report.
  }
}
