import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ErrorCode, JsonRpcError, type RequestId } from "../mcp/index.js";
import type { LiveSession, SessionContext } from "./live-session.js";
import { quietly } from "./maybe-promise.js";

/** Server-to-client requests of the sessions and their answers, whichever replica receives them. */
export type ClientRequests = ReturnType<typeof createClientRequests>;

/**
 * Server-to-client requests (MCP 2025-11-25 client/elicitation, client/sampling,
 * client/roots): asked on the stream of the request they serve and awaited on
 * the replica that asked; the client's answer may arrive at any replica and is
 * carried to the asking one by the bus.
 */
export function createClientRequests(ctx: SessionContext) {
  const { bus } = ctx.state;
  let asked = 0;

  /** A server-to-client request on the stream of the request it serves (basic/transports). */
  function ask(
    live: LiveSession,
    method: string,
    params: JsonObject,
    signal: AbortSignal,
    send: (message: unknown) => void,
  ): Promise<JsonObject> {
    asked += 1;
    // Unique across replicas, so an answer arriving at another replica finds its way back.
    const id = `mcpengine-${ctx.tag}-${asked}`;
    return new Promise<JsonObject>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        live.pending.delete(id);
      };
      const timer = setTimeout(() => {
        done();
        reject(new JsonRpcError(ErrorCode.InternalError, `The client did not answer ${method} in time`));
      }, ctx.limits.clientRequestTimeoutMs);
      timer.unref();
      const onAbort = () => {
        done();
        reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      live.pending.set(id, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** The client's answer to a server-to-client request, for whichever replica asked it. */
  function settle(
    live: LiveSession,
    response: { id: RequestId; result?: JsonValue; error?: JsonValue },
  ): void {
    const answer: JsonObject =
      response.error !== undefined ? { error: response.error } : { result: response.result ?? {} };
    if (live.pending.has(response.id)) settleHere(live, response.id, answer);
    else quietly(bus.publish(live.id, { kind: "answer", id: response.id, response: answer }));
  }

  /** Hands an answer to the request waiting for it here, if one still is. */
  function settleHere(live: LiveSession, id: RequestId, answer: JsonObject): void {
    const waiter = live.pending.get(id);
    if (!waiter) return;
    if (answer.error !== undefined) {
      const e = answer.error as { code?: number; message?: string; data?: unknown };
      waiter.reject(
        new JsonRpcError(
          typeof e.code === "number" ? e.code : ErrorCode.InternalError,
          `The client answered with an error: ${e.message ?? "unknown"}`,
          e.data,
        ),
      );
    } else {
      const r = answer.result;
      waiter.resolve(typeof r === "object" && r !== null && !Array.isArray(r) ? r : {});
    }
  }

  return { ask, settle, settleHere };
}
