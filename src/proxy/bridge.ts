import { isResponse, META, sessionVersion } from "./protocol.js";
import { type JsonRpcMessage, LoginRequiredError, type Remote } from "./types.js";

/** What the bridge needs to know of the login while the user has not completed it. */
export interface LoginState {
  /** Resolves when a token is there (a login completed, here or in another instance). */
  loggedIn(): Promise<void>;
  /** The link to log in at, once the flow has produced it (waits briefly for it). */
  loginUrl(): Promise<URL | undefined>;
}

/** Options of {@link createBridge}. */
export interface BridgeOptions {
  /** The remote MCP endpoint (for messages to the user). */
  readonly url: URL;
  /**
   * Opens the remote for the host's first message and from then on hands
   * every server message to `onMessage`. A session-era host's `initialize` is
   * sent by it; a 2026-07-28 host's first request is not (the bridge sends it).
   * Rejects with {@link LoginRequiredError} when the server wants a login first.
   */
  readonly connect: (
    first: JsonRpcMessage,
    onMessage: (m: JsonRpcMessage) => void,
    hostEra: HostEra,
  ) => Promise<Remote>;
  readonly login: LoginState;
  /** Writes one message to the host (stdout). */
  readonly write: (message: JsonRpcMessage) => void;
  readonly log: (message: string) => void;
  /** Server identity reported while logged out. */
  readonly info: { readonly name: string; readonly version: string };
}

/** How the host speaks: the session eras (initialize first) or 2026-07-28 (`_meta` on every request). */
export type HostEra = "session" | "stateless";

/** The bridge between one host (stdio) and the remote server. */
export interface Bridge {
  /** A message from the host. */
  handle(message: JsonRpcMessage): void;
  /** Ends the remote connection (the host went away). */
  close(): Promise<void>;
}

type Id = string | number;

/** The tool listed while logged out: calling it (or any tool) answers with the login link. */
const LOGIN_TOOL = "login";

/** The lists a logged-out proxy answers for the server (each has a `list_changed` notification). */
const LIST_KINDS = ["tools", "resources", "prompts"] as const;
type ListKind = (typeof LIST_KINDS)[number];

function listKindOf(method: unknown): ListKind | undefined {
  switch (method) {
    case "tools/list":
      return "tools";
    case "resources/list":
    case "resources/templates/list":
      return "resources";
    case "prompts/list":
      return "prompts";
    default:
      return undefined;
  }
}

/**
 * Bridges newline-delimited JSON-RPC from a stdio host to a remote MCP server.
 * Messages pass through unchanged in both directions, in order. When the
 * server wants a login, the host is not kept waiting: `initialize` is answered
 * at once by the proxy, the tool list holds one `login` tool, and every tool
 * call answers with the login link, which the model can show. When the login
 * completes the proxy opens the real session (replaying the host's
 * `initialize`, whose second answer it keeps to itself) and tells the host
 * that its lists changed (`notifications/tools/list_changed`), so the real
 * tools appear without a restart.
 */
export function createBridge(options: BridgeOptions): Bridge {
  let remote: Remote | undefined;
  /** The host's first message: its initialize, or a 2026-07-28 host's first request. */
  let initialize: JsonRpcMessage | undefined;
  let hostEra: HostEra = "session";
  let initialized: JsonRpcMessage | undefined;
  let state: "new" | "connecting" | "logged-out" | "connected" | "closed" = "new";
  /** Host messages that arrived while the remote was being opened, sent once it is. */
  let queue: JsonRpcMessage[] = [];
  /** Backoff between attempts to reopen the session after a login. */
  let retryMs = 0;
  /** Ids of server answers to requests the proxy made itself (a replayed initialize). */
  const swallow = new Set<Id>();
  /** Lists the host was given the logged-out contents of, to announce as changed after the login. */
  const staleLists = new Set<ListKind>();
  /** The last login failed: nothing will start another until a host request meets the server again. */
  let loginFailed = false;

  const fromServer = (m: JsonRpcMessage) => {
    if (isResponse(m) && swallow.delete(m.id as Id)) return;
    options.write(m);
  };

  async function open(init: JsonRpcMessage, replay: boolean): Promise<void> {
    state = "connecting";
    const session = hostEra === "session";
    if (replay && session) swallow.add(init.id as Id);
    try {
      remote = await options.connect(init, fromServer, hostEra);
    } catch (err) {
      if (replay && session) swallow.delete(init.id as Id);
      if (closed()) return;
      if (err instanceof LoginRequiredError) {
        if (!replay && session) options.write(result(init.id as Id, loggedOutInitialize(init, options.info)));
        else if (!replay) void answerLoggedOut(init);
        loggedOut();
        const waiting = queue;
        queue = [];
        for (const m of waiting) if (isRequest(m)) void answerLoggedOut(m);
        return;
      }
      if (replay) {
        // Logged in, but the server cannot be reached now: stay logged out and try on the next login event.
        retryMs = Math.min(Math.max(retryMs * 2, 1_000), 30_000);
        options.log(
          `cannot reopen the session after the login (${message(err)}); trying again in ${retryMs / 1000}s`,
        );
        loggedOut(retryMs);
        const waiting = queue;
        queue = [];
        for (const m of waiting) {
          if (isRequest(m)) {
            options.write(error(m.id as Id, -32603, `cannot reach ${options.url.href}: ${message(err)}`));
          }
        }
        return;
      }
      state = "new";
      options.write(error(init.id as Id, -32603, `cannot reach ${options.url.href}: ${message(err)}`));
      for (const m of queue) if (isRequest(m)) options.write(error(m.id as Id, -32603, "not connected"));
      queue = [];
      return;
    }
    if (closed()) {
      await remote.close();
      return;
    }
    retryMs = 0;
    state = "connected";
    if (!session && !replay) await send(init);
    if (replay && session) {
      if (initialized) await send(initialized);
      // The host saw the logged-out lists: tell it they changed (MCP server/tools "List Changed Notification").
      staleLists.clear();
      for (const kind of LIST_KINDS) announce(kind);
    }
    if (replay) options.log("logged in; the server's tools are available");
    const waiting = queue;
    queue = [];
    for (const m of waiting) void send(m);
  }

  /** Waits for a login (and `delayMs`, after a failed reconnect), then opens the real session. */
  function loggedOut(delayMs = 0): void {
    state = "logged-out";
    void options.login.loggedIn().then(
      () => {
        const reopen = () => {
          if (state === "logged-out" && initialize) void open(initialize, true);
        };
        if (delayMs > 0) setTimeout(reopen, delayMs).unref();
        else reopen();
      },
      (err: unknown) => {
        options.log(`login failed: ${message(err)}`);
        if (state === "logged-out") loginFailed = true;
      },
    );
  }

  /**
   * The token lapsed mid-session and could not be renewed: answer for the
   * server until the user logs in again, then carry on in the same session.
   */
  function lapsed(): void {
    state = "logged-out";
    void options.login.loggedIn().then(
      () => {
        if (state !== "logged-out") return;
        state = "connected";
        // Lists answered meanwhile held the login tool: a session host must ask again. Sent even when
        // the server did not declare `listChanged`, as nothing else would get the host off that list.
        // (A 2026-07-28 host was told not to keep them: `ttlMs` 0.)
        if (hostEra === "session") for (const kind of staleLists) announce(kind);
        staleLists.clear();
      },
      (err: unknown) => {
        // Back to the server: the next request meets its challenge again, which starts a new login.
        options.log(`login failed: ${message(err)}`);
        if (state === "logged-out") state = "connected";
      },
    );
  }

  function announce(kind: ListKind): void {
    options.write({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed` });
  }

  function closed(): boolean {
    return state === "closed";
  }

  async function send(m: JsonRpcMessage): Promise<void> {
    if (!remote) return;
    try {
      await remote.send(m);
    } catch (err) {
      if (err instanceof LoginRequiredError) {
        // The token lapsed and could not be renewed: answer now, log in again, then carry on.
        if (state === "connected") lapsed();
        if (isRequest(m)) await answerLoggedOut(m);
        return;
      }
      if (isRequest(m)) {
        // A JSON-RPC error the server answered over HTTP keeps its code and data.
        const rpc = rpcErrorOf(err);
        options.write(
          rpc ? { jsonrpc: "2.0", id: m.id as Id, error: rpc } : error(m.id as Id, -32603, message(err)),
        );
      } else options.log(`could not deliver ${String(m.method ?? "a response")}: ${message(err)}`);
    }
  }

  /** The answers of a proxy whose user has not logged in yet. */
  async function answerLoggedOut(m: JsonRpcMessage): Promise<void> {
    const id = m.id as Id;
    // 2026-07-28 results say they are complete; cacheable ones must not be cached past the login.
    const result = (rid: Id, value: object): JsonRpcMessage =>
      hostEra === "stateless"
        ? {
            jsonrpc: "2.0",
            id: rid,
            result: { ...value, resultType: "complete", ...(isCacheable(m) ? NOT_CACHED : {}) },
          }
        : { jsonrpc: "2.0", id: rid, result: value };
    const link = await options.login.loginUrl();
    const text = link
      ? `You need to log in to ${options.url.origin} before its tools can be used. Open this link to log in: ${link.href}`
      : `You need to log in to ${options.url.origin} before its tools can be used; the login is starting, try again in a moment.`;
    const kind = listKindOf(m.method);
    if (kind) staleLists.add(kind);
    switch (m.method) {
      case "tools/list":
        options.write(
          result(id, {
            tools: [
              {
                name: LOGIN_TOOL,
                title: `Log in to ${options.url.host}`,
                description: `Returns the link to log in to ${options.url.origin}. Its tools appear once the login is complete.`,
                inputSchema: { type: "object", properties: {}, additionalProperties: false },
              },
            ],
          }),
        );
        return;
      case "tools/call":
        options.write(result(id, { content: [{ type: "text", text }], isError: true }));
        return;
      case "resources/list":
        options.write(result(id, { resources: [] }));
        return;
      case "resources/templates/list":
        options.write(result(id, { resourceTemplates: [] }));
        return;
      case "prompts/list":
        options.write(result(id, { prompts: [] }));
        return;
      case "ping":
        options.write(result(id, {}));
        return;
      case "server/discover":
        options.write(
          result(id, {
            supportedVersions: ["2026-07-28"],
            capabilities: { tools: {}, resources: {}, prompts: {} },
            instructions: "The server needs a login: call the login tool for the link.",
            _meta: { [META.serverInfo]: options.info },
          }),
        );
        return;
      default:
        options.write(error(id, -32603, text));
    }
  }

  return {
    handle(m) {
      switch (state) {
        case "closed":
          return;
        case "new":
          if (m.method === "initialize" && isRequest(m)) {
            initialize = m;
            void open(m, false);
          } else if (isRequest(m) && speaksStateless(m)) {
            hostEra = "stateless";
            initialize = m;
            void open(m, false);
          } else if (isRequest(m)) {
            options.write(
              error(
                m.id as Id,
                -32600,
                "the first request must be initialize, or carry the 2026-07-28 _meta",
              ),
            );
          }
          return;
        case "connecting":
          if (m.method === "notifications/initialized") initialized = m;
          queue.push(m);
          return;
        case "logged-out":
          if (m.method === "notifications/initialized") initialized = m;
          else if (isRequest(m) && loginFailed && initialize) {
            // Meet the server's challenge again: it starts a new login, whose link answers `m`.
            loginFailed = false;
            queue.push(m);
            void open(initialize, true);
          } else if (isRequest(m)) void answerLoggedOut(m);
          return;
        case "connected":
          if (m.method === "notifications/initialized") initialized = m;
          void send(m);
          return;
      }
    },
    async close() {
      const r = remote;
      state = "closed";
      remote = undefined;
      await r?.close();
    },
  };
}

/** The answer to `initialize` while logged out: the host's version if we know it, tools that may change. */
function loggedOutInitialize(init: JsonRpcMessage, info: { name: string; version: string }): object {
  const params = (init.params ?? {}) as { protocolVersion?: unknown };
  return {
    protocolVersion: sessionVersion(params.protocolVersion),
    capabilities: {
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
    },
    serverInfo: info,
    instructions:
      "The server needs a login: call the login tool for the link. Its tools appear once logged in.",
  };
}

/** A 2026-07-28 request: its `_meta` names the revision (MCP 2026-07-28 basic/lifecycle). */
function speaksStateless(m: JsonRpcMessage): boolean {
  const meta = (m.params as { _meta?: { [k: string]: unknown } } | undefined)?._meta;
  return m.method === "server/discover" || meta?.[META.protocolVersion] === "2026-07-28";
}

/**
 * Methods whose 2026-07-28 results are cacheable: they MUST carry `ttlMs` and
 * `cacheScope` (MCP 2026-07-28 server/utilities/caching, `CacheableResult`).
 */
const CACHEABLE = new Set([
  "server/discover",
  "tools/list",
  "resources/list",
  "resources/templates/list",
  "prompts/list",
  "resources/read",
]);

/** A logged-out answer is stale at once, and holds nothing to share across authorization contexts. */
const NOT_CACHED = { ttlMs: 0, cacheScope: "private" } as const;

function isCacheable(m: JsonRpcMessage): boolean {
  return typeof m.method === "string" && CACHEABLE.has(m.method);
}

function isRequest(m: JsonRpcMessage): boolean {
  return typeof m.method === "string" && (typeof m.id === "string" || typeof m.id === "number");
}

function result(id: Id, value: object): JsonRpcMessage {
  return { jsonrpc: "2.0", id, result: value };
}

function error(id: Id, code: number, text: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message: text } };
}

/** The JSON-RPC error object a remote error carries, if the server answered with one. */
function rpcErrorOf(err: unknown): { code: number; message: string; data?: unknown } | undefined {
  const rpc = (err as { error?: unknown } | null)?.error;
  if (rpc && typeof rpc === "object" && typeof (rpc as { code?: unknown }).code === "number") {
    return rpc as { code: number; message: string; data?: unknown };
  }
  return undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
