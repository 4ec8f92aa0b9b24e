import type { LiveSession, SessionContext } from "./live-session.js";
import { quietly } from "./maybe-promise.js";

/** The resource watches of the sessions, as this replica runs and ends them. */
export type SessionWatches = ReturnType<typeof createSessionWatches>;

/**
 * Resource subscriptions of session-era clients (MCP 2025-11-25
 * server/resources "Subscriptions"): a watch runs on the replica that served
 * `resources/subscribe`; unsubscribing on any replica ends it through the bus.
 */
export function createSessionWatches(ctx: SessionContext) {
  const { bus } = ctx.state;

  /** Starts a resource watch of the session here, ending its other watch of the same URI wherever that runs. */
  function subscribe(live: LiveSession, uri: string): { signal: AbortSignal; end(): void } {
    unsubscribe(live, uri);
    const abort = new AbortController();
    live.subscriptions.set(uri, abort);
    return {
      signal: abort.signal,
      end: () => {
        if (live.subscriptions.get(uri) !== abort) return;
        live.subscriptions.delete(uri);
        ctx.release(live);
      },
    };
  }

  /** Ends the session's watch of a resource, here or on the replica running it. */
  function unsubscribe(live: LiveSession, uri: string): void {
    stop(live, uri);
    quietly(bus.publish(live.id, { kind: "unsubscribe", uri, by: ctx.me }));
  }

  /** Ends the session's watch of a resource if it runs here. */
  function stop(live: LiveSession, uri: string): void {
    const abort = live.subscriptions.get(uri);
    if (!abort) return;
    live.subscriptions.delete(uri);
    abort.abort();
    ctx.release(live);
  }

  return { subscribe, unsubscribe, stop };
}
