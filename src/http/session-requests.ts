import type { Identity } from "../auth/index.js";
import type { JsonRpcRequest, RequestId, SessionExchange } from "../mcp/index.js";
import type { ClientRequests } from "./client-requests.js";
import type { LiveSession, SessionContext } from "./live-session.js";
import { quietly } from "./maybe-promise.js";
import { RequestCancelled } from "./reply.js";

/** The client's requests to its session, as this replica runs them. */
export type SessionRequests = ReturnType<typeof createSessionRequests>;

/**
 * Requests of a session-era client running on this replica: each holds the
 * session while it runs, sees the session through its exchange, and can be
 * cancelled by a `notifications/cancelled` sent to any replica.
 */
export function createSessionRequests(ctx: SessionContext, clientRequests: ClientRequests) {
  const { bus } = ctx.state;

  /** Runs a request of a session here: cancellable from any replica until it ends. */
  function begin(live: LiveSession, id: RequestId): AbortController {
    const abort = new AbortController();
    live.inflight.set(id, abort);
    ctx.hold(live);
    return abort;
  }

  /** The request ended (answered, cancelled or failed). */
  function end(live: LiveSession, id: RequestId): void {
    live.inflight.delete(id);
    ctx.release(live);
  }

  /** The exchange of a session-era request; `canAsk` is false when nothing can reach the client mid-request. */
  function exchange(
    live: LiveSession,
    signal: AbortSignal,
    identity: Identity | undefined,
    send: (message: unknown) => void,
    canAsk = true,
  ): SessionExchange {
    return {
      signal,
      ...(identity ? { identity } : {}),
      era: "session",
      clientCapabilities: live.clientCapabilities,
      logLevel: live.logLevel,
      session: live.hooks,
      notify: (method, params) => send({ jsonrpc: "2.0", method, params }),
      ...(canAsk
        ? { request: (method, params, sig) => clientRequests.ask(live, method, params, sig, send) }
        : {}),
    };
  }

  /**
   * MCP 2025-11-25 basic/utilities/cancellation: the RPC behind the request is
   * cancelled, wherever it runs, and the request gets no response.
   */
  function notification(live: LiveSession, message: JsonRpcRequest): void {
    if (message.method !== "notifications/cancelled") return;
    const id = message.params?.requestId;
    if (typeof id !== "string" && typeof id !== "number") return;
    const reason = typeof message.params?.reason === "string" ? message.params.reason : "";
    const here = live.inflight.get(id);
    if (here) here.abort(new RequestCancelled(reason));
    else quietly(bus.publish(live.id, { kind: "cancel", requestId: id, reason }));
  }

  return { begin, end, exchange, notification };
}
