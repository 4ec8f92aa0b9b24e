import { META } from "./protocol.js";
import type { JsonRpcMessage, Remote } from "./types.js";

/** The session revision the proxy asks a session-only server for. */
const SESSION_VERSION = "2025-11-25";
/** Server-to-client requests a 2026-07-28 host answers through `input_required` (basic/utilities/mrtr). */
const INPUT_METHODS = new Set(["elicitation/create", "sampling/createMessage", "roots/list"]);

type Id = string | number;

/** Options of {@link statelessOverSession}. */
export interface StatelessOverSessionOptions {
  /** The host's first message, whose `_meta` carries its version and capabilities. */
  readonly first: JsonRpcMessage;
  /** Every message for the host. */
  readonly onMessage: (message: JsonRpcMessage) => void;
  /** Opens a session with `initialize`; the server's messages go to `onMessage`. */
  readonly open: (
    initialize: JsonRpcMessage,
    onMessage: (message: JsonRpcMessage) => void,
  ) => Promise<Remote>;
  readonly info: { readonly name: string; readonly version: string };
}

/** One host request in flight, and the server's requests for input it is waiting on. */
interface Call {
  /** The id the host is waiting on now (a retry after input_required has a new one). */
  hostId: Id;
  /** Server requests answered through the host's next retry, by input key. */
  readonly asked: Map<string, Id>;
}

/**
 * Era bridging: a host that speaks 2026-07-28 (no initialize; version and
 * capabilities in every request's `_meta`) reaching a server that speaks only
 * the session eras. The proxy opens one session with the host's capabilities,
 * answers `server/discover` from the server's initialize result, strips the
 * 2026-07-28 `_meta` keys from requests and marks results
 * `resultType: "complete"`. A server-to-client request made while a host
 * request runs (elicitation, sampling, roots) becomes an `input_required`
 * answer to that request; the host's retry carries `inputResponses`, which go
 * back to the server as the answers, and the original call's result then
 * answers the retry (MCP 2026-07-28 basic/utilities/mrtr).
 */
export async function statelessOverSession(options: StatelessOverSessionOptions): Promise<Remote> {
  const meta = ((options.first.params as { _meta?: { [k: string]: unknown } } | undefined)?._meta ?? {}) as {
    [k: string]: unknown;
  };
  const capabilities = (meta[META.clientCapabilities] ?? {}) as object;
  const initialize: JsonRpcMessage = {
    jsonrpc: "2.0",
    id: "mcpengine-proxy-initialize",
    method: "initialize",
    params: { protocolVersion: SESSION_VERSION, capabilities, clientInfo: options.info },
  };
  let settleInit: (m: JsonRpcMessage) => void = () => {};
  const initAnswer = new Promise<JsonRpcMessage>((resolve) => {
    settleInit = resolve;
  });
  /** Answers to requests the proxy made itself (logging/setLevel), not for the host. */
  const own = new Set<Id>();
  let nextOwn = 0;
  /** Host requests in flight by the id the server knows (the first host id). */
  const calls = new Map<Id, Call>();
  let requestState = 0;
  /** Open `subscriptions/listen` requests of the host and the resources each asked for. */
  const listening = new Map<Id, Set<string>>();
  let logLevel: string | undefined;
  /** requestState tokens → the call they continue. */
  const states = new Map<string, Id>();

  const fromServer = (m: JsonRpcMessage) => {
    if (m.id === initialize.id && m.method === undefined) {
      settleInit(m);
      return;
    }
    if (m.method === undefined && own.delete(m.id as Id)) return;
    if (m.method === "notifications/resources/updated") {
      // A 2026-07-28 host hears updates on the listen that asked for them, tagged with its id.
      const uri = (m.params as { uri?: unknown } | undefined)?.uri;
      for (const [listenId, uris] of listening) {
        if (typeof uri === "string" && uris.has(uri)) {
          options.onMessage({
            ...m,
            params: { ...(m.params as object), _meta: { [META.subscriptionId]: listenId } },
          });
        }
      }
      return;
    }
    if (m.method === undefined) {
      const call = calls.get(m.id as Id);
      if (call) {
        calls.delete(m.id as Id);
        // A requestState the host never came back with dies with its call.
        for (const [token, serverId] of states) if (serverId === m.id) states.delete(token);
        const result = (m as { result?: { [k: string]: unknown } }).result;
        options.onMessage({
          ...m,
          id: call.hostId,
          ...(result ? { result: { ...result, resultType: "complete" } } : {}),
        });
        return;
      }
    }
    if (typeof m.method === "string" && m.id !== undefined && INPUT_METHODS.has(m.method)) {
      // Asked for input: answer the latest host request in flight with input_required. (The remote
      // does not say which POST stream a server request came on; with several calls in flight
      // the latest one is asked.)
      const [serverId, call] = [...calls.entries()].at(-1) ?? [];
      if (serverId === undefined || !call) {
        void remote.send({
          jsonrpc: "2.0",
          id: m.id,
          error: { code: -32603, message: "no request to ask input for" },
        });
        return;
      }
      const key = `input-${call.asked.size + 1}`;
      call.asked.set(key, m.id as Id);
      const token = `mcpengine-proxy-state-${++requestState}`;
      states.set(token, serverId);
      options.onMessage({
        jsonrpc: "2.0",
        id: call.hostId,
        result: {
          resultType: "input_required",
          inputRequests: { [key]: { method: m.method, params: m.params ?? {} } },
          requestState: token,
        },
      });
      return;
    }
    options.onMessage(m);
  };

  const remote = await options.open(initialize, fromServer);
  const answer = await initAnswer;
  if (!("result" in answer)) {
    await remote.close();
    throw new Error(`the server refused initialize: ${JSON.stringify(answer.error ?? "no answer")}`);
  }
  const init = (answer.result ?? {}) as { [k: string]: unknown };
  await remote.send({ jsonrpc: "2.0", method: "notifications/initialized" });

  return {
    era: "session",
    async send(m) {
      if (m.method === undefined) return remote.send(m);
      const id = m.id as Id | undefined;
      if (m.method === "subscriptions/listen" && id !== undefined) {
        // MCP 2026-07-28 server/resources "Subscriptions" onto a session's resources/subscribe.
        const wanted = (m.params as { notifications?: { resourceSubscriptions?: unknown } } | undefined)
          ?.notifications?.resourceSubscriptions;
        const uris = new Set(
          Array.isArray(wanted) ? wanted.filter((u): u is string => typeof u === "string") : [],
        );
        listening.set(id, uris);
        for (const uri of uris) {
          const subId = `mcpengine-proxy-subscribe-${++nextOwn}`;
          own.add(subId);
          await remote.send({ jsonrpc: "2.0", id: subId, method: "resources/subscribe", params: { uri } });
        }
        options.onMessage({
          jsonrpc: "2.0",
          method: "notifications/subscriptions/acknowledged",
          params: {
            _meta: { [META.subscriptionId]: id },
            notifications: uris.size > 0 ? { resourceSubscriptions: [...uris] } : {},
          },
        });
        return;
      }
      if (m.method === "notifications/cancelled") {
        const listenId = (m.params as { requestId?: unknown } | undefined)?.requestId as Id | undefined;
        const uris = listenId === undefined ? undefined : listening.get(listenId);
        if (uris && listenId !== undefined) {
          listening.delete(listenId);
          for (const uri of uris) {
            if ([...listening.values()].some((u) => u.has(uri))) continue;
            const unsubId = `mcpengine-proxy-unsubscribe-${++nextOwn}`;
            own.add(unsubId);
            await remote.send({
              jsonrpc: "2.0",
              id: unsubId,
              method: "resources/unsubscribe",
              params: { uri },
            });
          }
          options.onMessage({
            jsonrpc: "2.0",
            id: listenId,
            result: { _meta: { [META.subscriptionId]: listenId }, resultType: "complete" },
          });
          return;
        }
      }
      if (m.method === "server/discover" && id !== undefined) {
        options.onMessage({
          jsonrpc: "2.0",
          id,
          result: {
            supportedVersions: ["2026-07-28"],
            capabilities: init.capabilities ?? {},
            ...(typeof init.instructions === "string" ? { instructions: init.instructions } : {}),
            _meta: { [META.serverInfo]: init.serverInfo ?? {} },
            resultType: "complete",
          },
        });
        return;
      }
      const params = { ...((m.params ?? {}) as { [k: string]: unknown }) };
      const rest = { ...((params._meta ?? {}) as { [k: string]: unknown }) };
      const level = rest[META.logLevel];
      delete rest[META.protocolVersion];
      delete rest[META.clientCapabilities];
      delete rest[META.logLevel];
      if (Object.keys(rest).length > 0) params._meta = rest;
      else delete params._meta;
      if (typeof level === "string" && level !== logLevel) {
        // 2026-07-28 sends the level with each request; a session sets it once (logging/setLevel).
        logLevel = level;
        const levelId = `mcpengine-proxy-level-${++nextOwn}`;
        own.add(levelId);
        await remote.send({ jsonrpc: "2.0", id: levelId, method: "logging/setLevel", params: { level } });
      }
      // A retry after input_required: the answers go to the server's waiting requests.
      const token = typeof params.requestState === "string" ? params.requestState : undefined;
      const continued = token ? states.get(token) : undefined;
      if (continued !== undefined && id !== undefined) {
        states.delete(token as string);
        const call = calls.get(continued);
        const responses = (params.inputResponses ?? {}) as { [key: string]: unknown };
        if (call) {
          call.hostId = id;
          for (const [key, serverId] of call.asked) {
            call.asked.delete(key);
            await remote.send({ jsonrpc: "2.0", id: serverId, result: responses[key] ?? {} });
          }
          return;
        }
      }
      if (id !== undefined) calls.set(id, { hostId: id, asked: new Map() });
      await remote.send({ ...m, params });
    },
    close: () => remote.close(),
  };
}
