import { isResponse, META, sessionVersion } from "./protocol.js";
import type { JsonRpcMessage, Remote } from "./types.js";

/** Fields of 2026-07-28 results that session-era hosts do not know (basic/utilities "Caching", mrtr). */
const STATELESS_ONLY_FIELDS = ["resultType", "ttlMs", "cacheScope"];
/** Most rounds of input requests for one host request, as the gateway allows. */
const MAX_INPUT_ROUNDS = 8;

type Id = string | number;

/** Options of {@link sessionOverStateless}. */
export interface SessionOverStatelessOptions {
  /** The host's `initialize` request (session era). */
  readonly initialize: JsonRpcMessage;
  /** Every message for the host. */
  readonly onMessage: (message: JsonRpcMessage) => void;
  /** Opens the stateless remote whose server messages go to `onMessage`. */
  readonly open: (
    clientCapabilities: { readonly [k: string]: unknown },
    onMessage: (message: JsonRpcMessage) => void,
  ) => Remote;
  readonly log?: (message: string) => void;
}

/**
 * Era bridging: a host that speaks the session eras (initialize, then
 * requests) reaching a server that speaks only 2026-07-28 (stateless).
 *
 * - `initialize` becomes `server/discover`; its result (server info from
 *   `_meta`, capabilities, instructions) is answered to the host as the
 *   initialize result, in the host's protocol version.
 * - Each request goes out alone with the host's capabilities (the stateless
 *   remote puts them in `_meta`); `ping` and `logging/setLevel` are answered
 *   by the proxy (the level goes into later requests' `_meta`).
 * - An `input_required` result (MCP 2026-07-28 basic/utilities/mrtr) becomes
 *   server-to-client requests to the host (`elicitation/create`,
 *   `sampling/createMessage`, `roots/list`); their answers go back with the
 *   retried request as `inputResponses` with the `requestState`.
 * - 2026-07-28-only result fields are removed, and so is the tasks extension
 *   (io.modelcontextprotocol/tasks) from both sides' capabilities: it is not
 *   defined for the session eras (SEP-2663 "Backward Compatibility"), so the
 *   host's tool calls are answered synchronously.
 */
export async function sessionOverStateless(options: SessionOverStatelessOptions): Promise<Remote> {
  const hostParams = (options.initialize.params ?? {}) as {
    protocolVersion?: unknown;
    capabilities?: { [k: string]: unknown };
  };
  const version = sessionVersion(hostParams.protocolVersion);
  let next = 0;
  let logLevel: string | undefined;
  /** Host requests in flight: their original message, and the rounds of input so far. */
  const inflight = new Map<Id, { message: JsonRpcMessage; rounds: number }>();
  /** Answers the proxy waits for: its own requests (discover) and input requests sent to the host. */
  const waiting = new Map<Id, (m: JsonRpcMessage) => void>();

  const fromServer = (m: JsonRpcMessage) => {
    if (m.method === "notifications/subscriptions/acknowledged") return;
    if (m.method === "notifications/resources/updated") {
      // Sessions have no subscription ids: the update goes to the host as it is, without the listen's tag.
      const params = { ...((m.params ?? {}) as { [k: string]: unknown }) };
      delete params._meta;
      options.onMessage({ ...m, params });
      return;
    }
    if (isResponse(m) && listens.delete(m.id as Id)) return;
    if (isResponse(m)) {
      const own = waiting.get(m.id as Id);
      if (own) {
        waiting.delete(m.id as Id);
        own(m);
        return;
      }
      const pending = inflight.get(m.id as Id);
      if (pending) {
        void settle(pending, m);
        return;
      }
    }
    options.onMessage(m);
  };

  const inner = options.open(withoutTasks(hostParams.capabilities ?? {}), fromServer);
  /** Resources the host subscribed to, and the listen request that carries them now. */
  const subscribed = new Set<string>();
  const listens = new Set<Id>();
  let listening: Id | undefined;

  /**
   * `resources/subscribe` and `unsubscribe` become one `subscriptions/listen`
   * for the whole set (MCP 2026-07-28 server/resources "Subscriptions"): a
   * new listen replaces the previous one, which is cancelled.
   */
  async function relisten(): Promise<void> {
    const previous = listening;
    listening = undefined;
    if (previous !== undefined) {
      await inner.send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: previous },
      });
    }
    if (subscribed.size === 0) return;
    const id = `mcpengine-proxy-listen-${++next}`;
    listening = id;
    listens.add(id);
    // Not awaited: the listen's answer is a stream that lasts until it is cancelled.
    void inner
      .send({
        jsonrpc: "2.0",
        id,
        method: "subscriptions/listen",
        params: { notifications: { resourceSubscriptions: [...subscribed] } },
      })
      .catch((err: unknown) => options.log?.(`could not listen for resource updates: ${String(err)}`));
  }

  /** Sends a request of the proxy's own to the server and waits for its answer. */
  const ask = (method: string, params: object): Promise<JsonRpcMessage> => {
    const id = `mcpengine-proxy-${++next}`;
    return new Promise((resolve, reject) => {
      waiting.set(id, resolve);
      inner.send({ jsonrpc: "2.0", id, method, params }).catch((err: unknown) => {
        waiting.delete(id);
        reject(err);
      });
    });
  };

  /** Sends a request to the host (an input request) and waits for its answer. */
  const askHost = (method: string, params: unknown): Promise<JsonRpcMessage> => {
    const id = `mcpengine-proxy-input-${++next}`;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      options.onMessage({ jsonrpc: "2.0", id, method, params: params ?? {} });
    });
  };

  /** A server answer to a host request: input rounds first, then the result for the host. */
  async function settle(
    pending: { message: JsonRpcMessage; rounds: number },
    m: JsonRpcMessage,
  ): Promise<void> {
    const id = pending.message.id as Id;
    const result = (m as { result?: { [k: string]: unknown } }).result;
    if (result?.resultType !== "input_required") {
      inflight.delete(id);
      if (result) for (const f of STATELESS_ONLY_FIELDS) delete result[f];
      options.onMessage(m);
      return;
    }
    if (++pending.rounds > MAX_INPUT_ROUNDS) {
      inflight.delete(id);
      options.onMessage(
        failure(id, -32603, `the server asked for input more than ${MAX_INPUT_ROUNDS} times`),
      );
      return;
    }
    const requests = (result.inputRequests ?? {}) as {
      [key: string]: { method?: unknown; params?: unknown };
    };
    const responses: { [key: string]: unknown } = {};
    for (const [key, request] of Object.entries(requests)) {
      if (typeof request.method !== "string") continue;
      const answer = await askHost(request.method, request.params);
      if ("error" in answer) {
        inflight.delete(id);
        options.onMessage(failure(id, -32603, `the host refused ${request.method}`));
        return;
      }
      responses[key] = (answer as { result?: unknown }).result ?? {};
    }
    const params = {
      ...((pending.message.params as object | undefined) ?? {}),
      inputResponses: responses,
    } as {
      [k: string]: unknown;
    };
    if (result.requestState !== undefined) params.requestState = result.requestState;
    await inner.send({ ...pending.message, params }).catch((err: unknown) => {
      inflight.delete(id);
      options.onMessage(failure(id, -32603, err instanceof Error ? err.message : String(err)));
    });
  }

  // initialize → server/discover (MCP 2026-07-28 basic/lifecycle).
  const discovered = await ask("server/discover", {});
  const initId = options.initialize.id as Id;
  if ("error" in discovered) {
    options.onMessage({ ...discovered, id: initId });
  } else {
    const d = ((discovered as { result?: unknown }).result ?? {}) as {
      capabilities?: { [k: string]: unknown };
      instructions?: unknown;
      _meta?: { [k: string]: unknown };
    };
    const info = d._meta?.[META.serverInfo] ?? { name: "mcp-server", version: "0" };
    const capabilities = withoutTasks(d.capabilities ?? {});
    delete capabilities.logging;
    options.onMessage({
      jsonrpc: "2.0",
      id: initId,
      result: {
        protocolVersion: version,
        capabilities: { ...capabilities, logging: {} },
        serverInfo: info,
        ...(typeof d.instructions === "string" ? { instructions: d.instructions } : {}),
      },
    });
  }

  return {
    era: "stateless",
    async send(m) {
      const method = m.method;
      if (method === undefined) {
        // A host answer: to an input request of ours, or passed through.
        const own = waiting.get(m.id as Id);
        if (own) {
          waiting.delete(m.id as Id);
          own(m);
          return;
        }
        return inner.send(m);
      }
      if (method === "notifications/initialized") return;
      if (m.id === undefined) return inner.send(m);
      const id = m.id as Id;
      switch (method) {
        case "ping":
          options.onMessage({ jsonrpc: "2.0", id, result: {} });
          return;
        case "logging/setLevel":
          logLevel = String((m.params as { level?: unknown } | undefined)?.level ?? "info");
          options.onMessage({ jsonrpc: "2.0", id, result: {} });
          return;
        case "resources/subscribe":
        case "resources/unsubscribe": {
          const uri = (m.params as { uri?: unknown } | undefined)?.uri;
          if (typeof uri !== "string") {
            options.onMessage(failure(id, -32602, "params.uri must be a string"));
            return;
          }
          if (method === "resources/subscribe") subscribed.add(uri);
          else subscribed.delete(uri);
          await relisten();
          options.onMessage({ jsonrpc: "2.0", id, result: {} });
          return;
        }
      }
      const out = logLevel ? withLogLevel(m, logLevel) : m;
      inflight.set(id, { message: out, rounds: 0 });
      try {
        await inner.send(out);
      } catch (err) {
        inflight.delete(id);
        throw err;
      }
    },
    async close() {
      subscribed.clear();
      await relisten().catch(() => {});
      await inner.close();
    },
  };
}

/** MCP 2026-07-28: the log level rides in each request's `_meta`. */
function withLogLevel(m: JsonRpcMessage, level: string): JsonRpcMessage {
  const params = (m.params ?? {}) as { _meta?: object; [k: string]: unknown };
  return {
    ...m,
    params: { ...params, _meta: { ...(params._meta ?? {}), [META.logLevel]: level } },
  };
}

function failure(id: Id, code: number, message: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/** The tasks extension's identifier (SEP-2663). */
const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** A copy of `capabilities` without the tasks extension (and without `extensions` when nothing else is in it). */
function withoutTasks(capabilities: { [k: string]: unknown }): { [k: string]: unknown } {
  const out = { ...capabilities };
  const extensions = out.extensions;
  if (typeof extensions !== "object" || extensions === null || Array.isArray(extensions)) return out;
  const rest: { [k: string]: unknown } = { ...(extensions as { [k: string]: unknown }) };
  delete rest[TASKS_EXTENSION];
  if (Object.keys(rest).length > 0) out.extensions = rest;
  else delete out.extensions;
  return out;
}
