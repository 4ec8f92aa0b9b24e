import { type JsonRpcMessage, type Remote, RemoteError, type RemoteOptions } from "../types.js";
import { createHttpClient, discard, mediaType, readText, remoteError } from "./http.js";
import {
  connectionLost,
  isResponseTo,
  type MessageShape,
  parseMessages,
  type RequestId,
  shapeOf,
} from "./messages.js";
import { DEFAULT_RECONNECT, followStream, type ReconnectPolicy, sleep } from "./resumable-stream.js";
import { readSse, type SseEvent } from "./sse-reader.js";

/** Options of {@link createSessionRemote}. */
export interface SessionRemoteOptions extends RemoteOptions {
  /**
   * Produces an `initialize` request for when the remote must start a session
   * and the host sent none to replay (a host of another era). Default: none;
   * only the host's own `initialize` is ever replayed.
   */
  readonly initialize?: () => JsonRpcMessage;
  /** Resumption of dropped streams; default {@link DEFAULT_RECONNECT}. */
  readonly reconnect?: Partial<ReconnectPolicy>;
}

/** Largest JSON response body read (bytes). */
const MAX_JSON_BODY = 16 * 1024 * 1024;
/** Event ids remembered to drop redelivered events; ids are unique per session, so recent ones suffice. */
const REMEMBERED_EVENT_IDS = 4_096;
const ACCEPT_POST = "application/json, text/event-stream";
const INITIALIZED = "notifications/initialized";
/** Longest wait of a request for the session to settle after `notifications/initialized` (see `settling`). */
const SETTLE_MS = 2_000;
/** How long `close` waits for the session DELETE: a hung server must not hold the host's shutdown. */
const DELETE_TIMEOUT_MS = 2_000;

/**
 * Streamable HTTP with sessions (MCP 2025-03-26 … 2025-11-25
 * basic/transports "Streamable HTTP"): every host message is POSTed with
 * `Mcp-Session-Id` and `MCP-Protocol-Version` once known; answers come as
 * JSON or SSE; the GET stream carries the rest. Dropped streams are resumed
 * with `Last-Event-ID` and redelivered events dropped, so each message
 * reaches `onMessage` once, in order. A 404 on a known session starts a new
 * one by replaying the host's `initialize` and `notifications/initialized`,
 * then sends the message again.
 *
 * `send` of a request resolves once its answer began: after delivering a
 * JSON answer, or once its SSE stream opened (the rest arrives in the background).
 */
export function createSessionRemote(options: SessionRemoteOptions): Remote {
  const http = createHttpClient(options);
  const policy: ReconnectPolicy = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const log = options.log ?? (() => {});
  const life = new AbortController();
  const seen = new RecentIds(REMEMBERED_EVENT_IDS);
  let sessionId: string | undefined;
  let version: string | undefined;
  let hostInitialize: JsonRpcMessage | undefined;
  let hostInitialized: JsonRpcMessage | undefined;
  /** The host's initialize awaiting its answer, to learn the negotiated version from it. */
  let initializeId: RequestId | undefined;
  let starting: Promise<void> | undefined;
  /**
   * While `notifications/initialized` is on its way and the GET stream opens,
   * requests wait (at most {@link SETTLE_MS}): normal operation begins once the
   * server has the notification (basic/lifecycle "Initialization"), and what
   * the server sends outside a request then has its stream (basic/transports
   * "Listening for Messages from the Server"). Concurrent POSTs could
   * otherwise overtake both.
   */
  let settling: Promise<void> | undefined;
  let listening: { readonly session: string; readonly abort: AbortController } | undefined;

  function headers(accept: string, withSession: boolean): { [name: string]: string } {
    const h: { [name: string]: string } = { accept };
    if (withSession && sessionId !== undefined) h["mcp-session-id"] = sessionId;
    if (withSession && version !== undefined) h["mcp-protocol-version"] = version;
    return h;
  }

  function deliver(message: JsonRpcMessage): void {
    if (initializeId !== undefined && isResponseTo(message, initializeId)) {
      version = negotiatedVersion(message) ?? version;
      initializeId = undefined;
    }
    options.onMessage(message);
  }

  /** Delivers the messages of one SSE event unless its id was delivered before; returns them. */
  function deliverEvent(event: SseEvent): readonly JsonRpcMessage[] {
    if (event.event !== undefined && event.event !== "message") return [];
    if (event.id !== undefined) {
      if (seen.has(event.id)) return [];
      seen.add(event.id);
    }
    if (event.data === "") return []; // the priming event (2025-11-25) carries only an id
    const parsed = parseMessages(event.data);
    if ("error" in parsed) {
      log(`dropped an SSE event: ${parsed.error}`);
      return [];
    }
    for (const m of parsed.messages) deliver(m);
    return parsed.messages;
  }

  /** A GET of the session's stream: the standalone one, or with `Last-Event-ID` the one that id belongs to. */
  async function openGet(lastEventId: string | undefined, signal: AbortSignal): Promise<Response> {
    const h = headers("text/event-stream", true);
    if (lastEventId !== undefined) h["last-event-id"] = lastEventId;
    const res = await http(options.url, { method: "GET", headers: h, signal });
    if (!res.ok) throw await remoteError(res, "GET of the SSE stream");
    if (mediaType(res) !== "text/event-stream") {
      await discard(res);
      throw new RemoteError("GET of the SSE stream: the answer is not text/event-stream", res.status);
    }
    return res;
  }

  /**
   * Opens the standalone GET stream of the current session, once (basic/transports
   * "Listening for Messages"). Resolves when the server answered the first GET,
   * however it did (a stream, a 405, a failure).
   */
  function listen(): Promise<void> {
    const session = sessionId;
    if (session === undefined || listening?.session === session || life.signal.aborted) {
      return Promise.resolve();
    }
    listening?.abort.abort();
    const abort = new AbortController();
    listening = { session, abort };
    let answered!: () => void;
    const first = new Promise<void>((resolve) => {
      answered = resolve;
    });
    followStream({
      reopen: (lastEventId, signal) => openGet(lastEventId, signal).finally(answered),
      onEvent: deliverEvent,
      done: () => false,
      reopenWithoutId: true,
      policy,
      signal: abort.signal,
    })
      .catch((err: unknown) => {
        if (abort.signal.aborted) return;
        // 405: the server has no GET stream. A 404 is left to the next POST, which starts a new session.
        if (err instanceof RemoteError && err.status === 405) log("the server offers no GET stream");
        else log(`the GET stream ended: ${reason(err)}`);
      })
      .finally(answered);
    return first;
  }

  function stopListening(): void {
    listening?.abort.abort();
    listening = undefined;
  }

  /** Hands the answer to one POST to `onMessage`: nothing (202), a JSON body, or an SSE stream. */
  async function answer(res: Response, shape: MessageShape): Promise<void> {
    const type = mediaType(res);
    if (res.status === 202 || res.status === 204 || (type === "" && shape.kind !== "request")) {
      return discard(res);
    }
    if (type === "application/json") {
      const parsed = parseMessages(await readText(res, MAX_JSON_BODY));
      if ("error" in parsed) throw new RemoteError(`${what(shape)}: ${parsed.error}`, res.status);
      for (const m of parsed.messages) deliver(m);
      return;
    }
    if (type !== "text/event-stream") {
      await discard(res);
      throw new RemoteError(`${what(shape)}: unexpected content type "${type}"`, res.status);
    }
    if (shape.kind !== "request") {
      // Nothing is owed for a notification or response; read what comes, without resuming.
      void (async () => {
        for await (const e of readSse(res)) deliverEvent(e);
      })().catch(() => {});
      return;
    }
    let answered = false;
    followStream({
      first: res,
      reopen: openGet,
      onEvent: (e) => {
        if (deliverEvent(e).some((m) => isResponseTo(m, shape.id))) answered = true;
      },
      done: () => answered,
      reopenWithoutId: false,
      policy,
      signal: life.signal,
    }).catch((err: unknown) => {
      if (answered || life.signal.aborted) return;
      log(`lost the answer to ${shape.method}: ${reason(err)}`);
      options.onMessage(connectionLost(shape.id, reason(err)));
    });
  }

  async function post(message: JsonRpcMessage, mayRestart: boolean): Promise<void> {
    const shape = shapeOf(message);
    const initialize = shape.kind === "request" && shape.method === "initialize";
    const used = sessionId;
    const res = await http(options.url, {
      method: "POST",
      headers: { ...headers(ACCEPT_POST, !initialize), "content-type": "application/json" },
      body: JSON.stringify(message),
      signal: life.signal,
    });
    if (res.status === 404 && used !== undefined && mayRestart) {
      await discard(res);
      log("the server no longer knows the session; starting a new one");
      await restart(used);
      // Starting the session sent the host's notifications/initialized already.
      if (shape.kind === "notification" && shape.method === INITIALIZED) return;
      return post(message, false);
    }
    if (!res.ok) throw await remoteError(res, what(shape));
    if (initialize) sessionId = res.headers.get("mcp-session-id") ?? undefined;
    await answer(res, shape);
  }

  /** Starts a session (once, however many callers ask at the same time). */
  function start(): Promise<void> {
    starting ??= establish().finally(() => {
      starting = undefined;
    });
    return starting;
  }

  /** Starts a new session unless one already replaced `stale`. */
  function restart(stale: string): Promise<void> {
    if (starting) return starting;
    return sessionId === stale ? start() : Promise.resolve();
  }

  /** Replays initialize (swallowing its answer) and notifications/initialized, then listens again. */
  async function establish(): Promise<void> {
    const init = hostInitialize ?? options.initialize?.();
    const initShape = init ? shapeOf(init) : undefined;
    if (!init || initShape?.kind !== "request") {
      throw new RemoteError(
        "the server has no session for us and there is no initialize request to start one",
        404,
      );
    }
    stopListening();
    const res = await http(options.url, {
      method: "POST",
      headers: { ...headers(ACCEPT_POST, false), "content-type": "application/json" },
      body: JSON.stringify(init),
      signal: life.signal,
    });
    if (!res.ok) throw await remoteError(res, "initialize (new session)");
    const next = res.headers.get("mcp-session-id") ?? undefined;
    const result = await initializeAnswer(res, initShape.id);
    sessionId = next;
    version = negotiatedVersion(result) ?? version;
    seen.clear();
    const initialized = hostInitialized ?? { jsonrpc: "2.0", method: INITIALIZED };
    const ack = await http(options.url, {
      method: "POST",
      headers: { ...headers(ACCEPT_POST, true), "content-type": "application/json" },
      body: JSON.stringify(initialized),
      signal: life.signal,
    });
    if (!ack.ok) throw await remoteError(ack, INITIALIZED);
    await discard(ack);
    void listen();
  }

  /** Reads the answer to a replayed initialize without passing it to the host (other messages pass). */
  async function initializeAnswer(res: Response, id: RequestId): Promise<JsonRpcMessage> {
    const messages: JsonRpcMessage[] = [];
    if (mediaType(res) === "text/event-stream") {
      for await (const event of readSse(res)) {
        const parsed = event.data === "" ? { messages: [] } : parseMessages(event.data);
        if ("messages" in parsed) messages.push(...parsed.messages);
        if (messages.some((m) => isResponseTo(m, id))) break;
      }
    } else {
      const parsed = parseMessages(await readText(res, MAX_JSON_BODY));
      if ("messages" in parsed) messages.push(...parsed.messages);
    }
    const response = messages.find((m) => isResponseTo(m, id));
    for (const m of messages) if (m !== response) options.onMessage(m);
    if (!response) throw new RemoteError("initialize (new session): the server did not answer");
    if (response.error !== undefined) {
      throw new RemoteError(`initialize (new session) failed: ${JSON.stringify(response.error)}`);
    }
    return response;
  }

  return {
    era: "session",
    async send(message) {
      if (life.signal.aborted) throw new RemoteError("the connection to the server is closed");
      const shape = shapeOf(message);
      if (shape.kind === "request" && shape.method === "initialize") {
        // A (new) initialize from the host starts a new session.
        stopListening();
        hostInitialize = message;
        initializeId = shape.id;
        sessionId = undefined;
        version = undefined;
        seen.clear();
      } else if (shape.kind === "notification" && shape.method === INITIALIZED) {
        hostInitialized = message;
        const posted = post(message, true);
        const gate: Promise<void> = posted
          .then(listen)
          .catch(() => {})
          .finally(() => {
            if (settling === gate) settling = undefined;
          });
        settling = gate;
        return posted;
      } else if (sessionId === undefined && hostInitialize === undefined && options.initialize) {
        await start();
      }
      if (settling && shape.kind === "request") {
        await Promise.race([settling, sleep(SETTLE_MS, life.signal)]);
      }
      await post(message, true);
    },
    async close() {
      if (life.signal.aborted) return;
      life.abort();
      stopListening();
      if (sessionId === undefined) return;
      // Best effort (basic/transports "Session Management"): no login for it; 405 means the server keeps it.
      try {
        const res = await http(options.url, {
          method: "DELETE",
          headers: headers("application/json", true),
          signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
          challenge: false,
        });
        await discard(res);
        if (!res.ok && res.status !== 405) log(`DELETE of the session answered HTTP ${res.status}`);
      } catch (err) {
        log(`DELETE of the session failed: ${reason(err)}`);
      }
    },
  };
}

/** The `protocolVersion` of an initialize result. */
function negotiatedVersion(response: JsonRpcMessage): string | undefined {
  const result = response.result as { protocolVersion?: unknown } | undefined;
  return typeof result?.protocolVersion === "string" ? result.protocolVersion : undefined;
}

function what(shape: MessageShape): string {
  return shape.kind === "response" ? "POST of a response" : `POST of ${shape.method}`;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The most recent `capacity` ids, oldest forgotten first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
  clear(): void {
    this.ids.clear();
  }
}
