import {
  type DescMethodServerStreaming,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Identity } from "../auth/index.js";
import type { Bound, PromptDef, ResourceTemplateDef, Surface, ToolDef } from "../catalog/index.js";
import {
  type BackendHandle,
  type CallContext,
  type CallToolResult,
  callTool,
  createStateSealer,
  describeRpcError,
  type InputRequired,
  invokeUnary,
  LOG_LEVELS,
  type LogLevel,
  type Outcome,
  passesLevel,
  promptResult,
  resourceContents,
  type StateSealer,
  WellKnown,
} from "../invoke/index.js";
import { decodeHeaderValue, headerText } from "./headers.js";
import {
  ErrorCode,
  failure,
  JsonRpcError,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
  success,
} from "./jsonrpc.js";
import { negotiateVersion, SUPPORTED_VERSIONS } from "./versions.js";

/** The per-session state a session-era request may change. */
export interface SessionHooks {
  /** Minimum level of `notifications/message` (logging/setLevel). */
  logLevel: LogLevel | undefined;
  /** Live resource subscriptions: URI → the watch RPC to cancel. */
  readonly subscriptions: Map<string, AbortController>;
  /** Sends a notification on the session's standalone stream (not tied to a request). */
  notify(method: string, params: JsonObject): void;
}

/**
 * One incoming request as the core sees it, whatever the transport:
 * cancellation, the caller, what the client can do, and how to talk back.
 */
export interface Exchange {
  /** Aborted when the client cancels or goes away. */
  readonly signal: AbortSignal;
  /** The verified caller, when auth is on. */
  readonly identity?: Identity;
  /** A 2026-07-28 request (no session; input is requested through results). */
  readonly stateless: boolean;
  /** The client's capabilities (from `initialize` or the request's `_meta`). */
  readonly clientCapabilities: JsonObject;
  /** Minimum level of log notifications for this request; undefined sends none. */
  readonly logLevel: LogLevel | undefined;
  /** A request header (lower-case name), where the transport has headers. */
  readonly header?: (name: string) => string | undefined;
  /** Sends a notification related to this request (its response stream). */
  notify(method: string, params: JsonObject): void;
  /** Sends a server-to-client request related to this request (session eras only). */
  readonly request?: (method: string, params: JsonObject, signal: AbortSignal) => Promise<JsonObject>;
  /** The session, in session eras. */
  readonly session?: SessionHooks;
}

/**
 * The caller lacks scopes an operation needs; transports answer it with HTTP 403
 * and an `insufficient_scope` challenge (RFC 6750 §3.1; MCP authorization, "Scope Challenge").
 */
export class InsufficientScopeError extends Error {
  override readonly name = "InsufficientScopeError";
  constructor(readonly required: readonly string[]) {
    super(`insufficient scope: ${required.join(" ")}`);
  }
}

/** MCP-specific JSON-RPC error codes. */
export const McpErrorCode = {
  /** MCP 2025-11-25 server/resources "Error Handling". */
  ResourceNotFound: -32002,
  /** MCP 2026-07-28 basic/transports: header and body disagree. */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28 basic/lifecycle "Missing Required Capabilities". */
  MissingRequiredClientCapability: -32021,
  /** MCP 2026-07-28 basic/lifecycle "Version Negotiation". */
  UnsupportedProtocolVersion: -32022,
} as const;

/** Server identity reported in `initialize` and `server/discover`. */
export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly title?: string;
}

/** Options of {@link createMcpServer}. */
export interface McpServerOptions extends Catalog {
  readonly info: ServerInfo;
  readonly instructions?: string;
  /** Enforce the scopes declared in proto (auth on). */
  readonly enforceScopes?: boolean;
  /** Request metadata for a backend call on behalf of the caller (identity, tokens). */
  readonly backendHeaders?: (
    backend: string,
    identity: Identity | undefined,
  ) =>
    | { readonly [key: string]: string }
    | undefined
    | Promise<{ readonly [key: string]: string } | undefined>;
  /** Items per page of list results (default 100). */
  readonly pageSize?: number;
  /** Key for sealing input-required request state (random per process when absent). */
  readonly stateKey?: Uint8Array;
  /** Rounds of input requests one session-era call may go through (default 8). */
  readonly maxInputRounds?: number;
}

/** The protocol core: maps JSON-RPC requests to results, independent of any transport. */
export interface McpServer {
  /** Answers a request. */
  handle(request: JsonRpcRequest & { id: RequestId }, ex: Exchange): Promise<JsonRpcResponse>;
  /** Reports whether a method exists in an era (transports answer unknown ones before reading more). */
  knows(method: string, stateless: boolean): boolean;
  /** Ends open subscriptions gracefully (their listen requests complete). */
  close(): void;
  /** Serves another catalog from the next request on (requests in flight finish with theirs). */
  setCatalog(catalog: Catalog): void;
}

/** How long clients may cache list results in 2026-07-28 (basic/utilities "Caching"). */
const LIST_TTL_MS = 60_000;

/** Methods that only exist with sessions (removed in 2026-07-28). */
const SESSION_ONLY = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
]);
const COMMON = new Set([
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "prompts/list",
  "prompts/get",
  "completion/complete",
]);
const STATELESS_ONLY = new Set(["server/discover", "subscriptions/listen"]);
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/** Client capability each input-request method needs (MCP 2026-07-28 basic/utilities/mrtr). */
const INPUT_CAPABILITY: { readonly [method: string]: string } = {
  "elicitation/create": "elicitation",
  "sampling/createMessage": "sampling",
  "roots/list": "roots",
};

/**
 * Creates the MCP protocol core for a catalog. Wire forms of the catalog are
 * built once: they only change when the catalog does.
 */
export function createMcpServer(options: McpServerOptions): McpServer {
  const enforce = options.enforceScopes === true;
  const pageSize = options.pageSize ?? 100;
  const sealer: StateSealer = createStateSealer(options.stateKey);
  const maxRounds = options.maxInputRounds ?? 8;
  const cacheScope = enforce ? "private" : "public";
  /** Open subscriptions/listen streams, ended gracefully by close(). */
  const listening = new Set<AbortController>();
  /** The catalog in use: replaced whole, never changed in place; a request reads it once per step. */
  let cat = snapshot(options);
  /** Whether the caller holds every scope in `required` (always, when scopes are not enforced). */
  function allowed(required: readonly string[], ex: Exchange): boolean {
    if (!enforce || required.length === 0) return true;
    const held = ex.identity?.scopes;
    return required.every((s) => held?.has(s));
  }

  function demand(required: readonly string[], ex: Exchange): void {
    if (!allowed(required, ex)) throw new InsufficientScopeError(required);
  }

  /** One page of a list (MCP 2025-11-25 server/utilities/pagination). */
  function page(key: keyof typeof cat.lists, params: JsonObject, ex: Exchange): { [k: string]: unknown } {
    const all = cat.lists[key];
    const visible = enforce ? all.filter((e) => allowed(e.def.scopes, ex)) : all;
    const start = decodeCursor(params.cursor);
    const items = visible.slice(start, start + pageSize).map((e) => e.wire);
    const out: { [k: string]: unknown } = { [key]: items };
    if (start + pageSize < visible.length) out.nextCursor = encodeCursor(start + pageSize);
    return out;
  }

  async function dispatch(req: JsonRpcRequest & { id: RequestId }, ex: Exchange): Promise<object> {
    const params = (req.params ?? {}) as JsonObject;
    switch (req.method) {
      case "initialize":
        return strip({
          protocolVersion: negotiateVersion(params.protocolVersion),
          capabilities: cat.sessionCapabilities,
          serverInfo: options.info,
          instructions: options.instructions,
        });
      case "server/discover":
        return {
          supportedVersions: [...SUPPORTED_VERSIONS],
          capabilities: cat.statelessCapabilities,
          ...(options.instructions ? { instructions: options.instructions } : {}),
          _meta: { "io.modelcontextprotocol/serverInfo": { ...options.info } },
        };
      case "ping":
        return {};
      case "logging/setLevel":
        return setLevel(params, ex);
      case "tools/list":
        return page("tools", params, ex);
      case "tools/call":
        return callByName(req.id, params, ex);
      case "resources/list":
        return page("resources", params, ex);
      case "resources/templates/list":
        return page("resourceTemplates", params, ex);
      case "resources/read":
        return read(params, ex);
      case "resources/subscribe":
        return subscribe(params, ex);
      case "subscriptions/listen":
        return listen(req.id, params, ex);
      case "resources/unsubscribe":
        return unsubscribe(params, ex);
      case "prompts/list":
        return page("prompts", params, ex);
      case "prompts/get":
        return getPrompt(params, ex);
      case "completion/complete":
        return complete(params, ex);
      default:
        throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method}`);
    }
  }

  /** MCP 2025-11-25 server/utilities/logging "Setting Log Level". */
  function setLevel(params: JsonObject, ex: Exchange): { [k: string]: unknown } {
    const level = params.level;
    if (typeof level !== "string" || !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new JsonRpcError(ErrorCode.InvalidParams, `level must be one of ${LOG_LEVELS.join(", ")}`);
    }
    if (ex.session) ex.session.logLevel = level as LogLevel;
    return {};
  }

  /** MCP 2025-11-25 server/tools "Calling Tools"; unknown tools are protocol errors ("Error Handling"). */
  async function callByName(id: RequestId, params: JsonObject, ex: Exchange) {
    const name = params.name;
    if (typeof name !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.name must be a string");
    const tool = cat.toolsByName.get(name);
    if (!tool) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    demand(tool.scopes, ex);
    if (ex.header && tool.headerParams.length > 0) checkParamHeaders(tool, params.arguments, ex.header);
    const backend = backendOf(tool);
    let base: CallContext;
    try {
      base = await callContext(tool.backend, id, params, ex);
    } catch (err) {
      return errorToolResult(`Could not obtain credentials for the backend: ${(err as Error).message}`);
    }
    return withInput(`tools/call\0${name}`, params, ex, base, (ctx) =>
      callTool(tool, params.arguments, backend, ctx),
    );
  }

  /** MCP 2025-11-25 server/resources "Reading Resources"; templates bind variables to request fields. */
  async function read(params: JsonObject, ex: Exchange) {
    const uri = params.uri;
    if (typeof uri !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
    let def: Bound | undefined = cat.resourcesByUri.get(uri);
    let request: JsonObject = {};
    if (!def) {
      for (const t of cat.surface.templates) {
        const vars = t.template.match(uri);
        if (vars) {
          def = t;
          request = bindTemplate(t, vars);
          break;
        }
      }
    }
    if (!def) throw notFound(uri, ex);
    demand(def.scopes, ex);
    const found = def;
    const base = await callContext(found.backend, undefined, params, ex);
    return withInput(`resources/read\0${uri}`, params, ex, base, async (ctx) => {
      const out = await invoke(found, request, ctx, () => notFound(uri, ex));
      if (!("done" in out)) return out;
      return { done: { contents: readContents(found, uri, out.done) } };
    });
  }

  /**
   * Calls the unary RPC behind a resource, prompt or completion. Unlike tool
   * failures, backend failures here are JSON-RPC errors; NOT_FOUND may map to a
   * protocol-specific error.
   */
  async function invoke(
    def: Bound,
    request: JsonObject,
    ctx: CallContext,
    onNotFound?: () => JsonRpcError,
  ): Promise<Outcome<JsonObject>> {
    try {
      return await invokeUnary(def.method, request, backendOf(def), ctx);
    } catch (err) {
      const e = ConnectError.from(err);
      if (onNotFound && e.code === Code.NotFound) throw onNotFound();
      throw new JsonRpcError(ErrorCode.InternalError, describeRpcError(e));
    }
  }

  function readContents(def: Bound, uri: string, reply: JsonObject): unknown[] {
    const mimeType = (def as { mimeType?: string }).mimeType;
    if (def.method.output.typeName !== WellKnown.ResourceResult) {
      return [{ uri, mimeType: "application/json", text: JSON.stringify(reply) }];
    }
    const contents = Array.isArray(reply.contents) ? reply.contents : [];
    return contents.map((c) => {
      const out = resourceContents(c as { [k: string]: JsonValue });
      if (!out.uri) out.uri = uri;
      if (out.mimeType === undefined && mimeType) out.mimeType = mimeType;
      return out;
    });
  }

  /** Resource not found: -32002 with sessions (2025-11-25), -32602 in 2026-07-28 (server/resources "Error Handling"). */
  function notFound(uri: string, ex: Exchange): JsonRpcError {
    return new JsonRpcError(
      ex.stateless ? ErrorCode.InvalidParams : McpErrorCode.ResourceNotFound,
      `Resource not found: ${uri}`,
      { uri },
    );
  }

  /** MCP 2025-11-25 server/resources "Subscriptions": the watch RPC runs until unsubscribe or session end. */
  function subscribe(params: JsonObject, ex: Exchange) {
    const uri = params.uri;
    const session = ex.session;
    const watch = cat.surface.subscription;
    if (!watch || !session)
      throw new JsonRpcError(ErrorCode.MethodNotFound, "Method not found: resources/subscribe");
    if (typeof uri !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
    demand(watch.scopes, ex);
    session.subscriptions.get(uri)?.abort();
    const abort = new AbortController();
    session.subscriptions.set(uri, abort);
    void watchResource(watch, uri, abort.signal, ex.identity, (updated) =>
      session.notify("notifications/resources/updated", { uri: updated }),
    ).finally(() => {
      if (session.subscriptions.get(uri) === abort) session.subscriptions.delete(uri);
    });
    return {};
  }

  /** Runs the watch RPC for one URI until `signal` aborts, reporting each update. */
  async function watchResource(
    watch: Bound,
    uri: string,
    signal: AbortSignal,
    identity: Identity | undefined,
    onUpdate: (uri: string) => void,
  ): Promise<void> {
    try {
      const headers = await options.backendHeaders?.(watch.backend, identity);
      const method = watch.method as DescMethodServerStreaming;
      const res = await backendOf(watch).transport.stream(
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

  /**
   * MCP 2026-07-28 basic/patterns/subscriptions: a long-lived stream that is
   * acknowledged first, then carries the requested notifications, each tagged
   * with the subscription id, until the client closes it or the gateway stops.
   * The catalog is fixed at startup, so only resource updates are offered.
   */
  async function listen(id: RequestId, params: JsonObject, ex: Exchange) {
    const filter = params.notifications;
    if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.notifications must be an object");
    }
    const requested = Array.isArray(filter.resourceSubscriptions) ? filter.resourceSubscriptions : [];
    const uris = requested.filter((u): u is string => typeof u === "string");
    const watch = cat.surface.subscription;
    if (watch && uris.length > 0) demand(watch.scopes, ex);
    const meta = { [SUBSCRIPTION_ID]: id };
    const acknowledged: JsonObject = watch && uris.length > 0 ? { resourceSubscriptions: uris } : {};
    ex.notify("notifications/subscriptions/acknowledged", { _meta: meta, notifications: acknowledged });
    const stop = new AbortController();
    const end = () => stop.abort();
    ex.signal.addEventListener("abort", end, { once: true });
    listening.add(stop);
    try {
      if (watch) {
        for (const uri of new Set(uris)) {
          void watchResource(watch, uri, stop.signal, ex.identity, (updated) =>
            ex.notify("notifications/resources/updated", { _meta: meta, uri: updated }),
          );
        }
      }
      if (!stop.signal.aborted)
        await new Promise((resolve) => stop.signal.addEventListener("abort", resolve));
    } finally {
      listening.delete(stop);
      ex.signal.removeEventListener("abort", end);
    }
    return { _meta: meta };
  }

  function unsubscribe(params: JsonObject, ex: Exchange) {
    if (!cat.surface.subscription || !ex.session) {
      throw new JsonRpcError(ErrorCode.MethodNotFound, "Method not found: resources/unsubscribe");
    }
    if (typeof params.uri !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
    ex.session.subscriptions.get(params.uri)?.abort();
    ex.session.subscriptions.delete(params.uri);
    return {};
  }

  /** MCP 2025-11-25 server/prompts "Getting a Prompt": arguments fill the request's string fields. */
  async function getPrompt(params: JsonObject, ex: Exchange) {
    const name = params.name;
    if (typeof name !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.name must be a string");
    const prompt = cat.promptsByName.get(name);
    if (!prompt) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
    demand(prompt.scopes, ex);
    const request = promptRequest(prompt, params.arguments);
    const base = await callContext(prompt.backend, undefined, params, ex);
    return withInput(`prompts/get\0${name}`, params, ex, base, async (ctx) => {
      const out = await invoke(prompt, request, ctx);
      if (!("done" in out)) return out;
      const reply = out.done;
      if (prompt.method.output.typeName === WellKnown.PromptResult) return { done: promptResult(reply) };
      return {
        done: { messages: [{ role: "user", content: { type: "text", text: JSON.stringify(reply) } }] },
      };
    });
  }

  /** MCP 2025-11-25 server/utilities/completion; without a handler every completion is empty. */
  async function complete(params: JsonObject, ex: Exchange) {
    const ref = params.ref as JsonObject | undefined;
    const argument = params.argument as JsonObject | undefined;
    if (!ref || typeof ref !== "object" || !argument || typeof argument.name !== "string") {
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.ref and params.argument.name are required");
    }
    const handler = cat.surface.completion;
    if (!handler) return { completion: { values: [], hasMore: false } };
    demand(handler.scopes, ex);
    const context = ((params.context as JsonObject | undefined)?.arguments ?? {}) as JsonObject;
    const request: JsonObject = {
      prompt: ref.type === "ref/prompt" && typeof ref.name === "string" ? ref.name : "",
      uriTemplate: ref.type === "ref/resource" && typeof ref.uri === "string" ? ref.uri : "",
      argument: argument.name,
      value: typeof argument.value === "string" ? argument.value : "",
      context: Object.fromEntries(
        Object.entries(context).filter(([, v]) => typeof v === "string"),
      ) as JsonObject,
    };
    const out = await invoke(handler, request, await callContext(handler.backend, undefined, params, ex));
    if (!("done" in out))
      throw new JsonRpcError(ErrorCode.InternalError, "completion handlers cannot ask for input");
    const values = (Array.isArray(out.done.values) ? out.done.values : []).slice(0, 100);
    const completion: { [k: string]: unknown } = { values, hasMore: out.done.hasMore === true };
    if (out.done.total !== undefined) completion.total = out.done.total;
    return { completion };
  }

  /**
   * Runs an operation that may ask for input (MCP 2026-07-28 basic/utilities/mrtr).
   * Stateless: answers come in `inputResponses` + `requestState` and a request
   * for input is returned as an `input_required` result. Sessions: the gateway
   * asks the client itself (elicitation, sampling, roots) and calls again.
   */
  async function withInput<T extends object>(
    binding: string,
    params: JsonObject,
    ex: Exchange,
    base: CallContext,
    run: (ctx: CallContext) => Promise<Outcome<T>>,
  ): Promise<T | { [k: string]: unknown }> {
    const answered = (input: CallContext["input"]) => (input ? { ...base, input } : base);
    if (ex.stateless) {
      const out = await run(answered(incomingInput(params, binding)));
      if ("done" in out) return out.done;
      const requests = admissible(out.input, ex);
      const result: { [k: string]: unknown } = { resultType: "input_required", inputRequests: requests };
      if (out.input.state.length > 0) result.requestState = sealer.seal(out.input.state, binding);
      return result;
    }
    let input: CallContext["input"];
    for (let round = 0; ; round++) {
      const out = await run(answered(input));
      if ("done" in out) return out.done;
      if (!ex.request) {
        throw new JsonRpcError(
          ErrorCode.InvalidRequest,
          "the backend needs input from the client, which requires accepting text/event-stream on this request",
        );
      }
      if (round >= maxRounds) {
        throw new JsonRpcError(
          ErrorCode.InternalError,
          `the backend asked for input more than ${maxRounds} times`,
        );
      }
      const ask = ex.request;
      const requests = admissible(out.input, ex);
      const entries = await Promise.all(
        Object.entries(requests).map(
          async ([key, r]) => [key, await ask(r.method, r.params, ex.signal)] as const,
        ),
      );
      input = { responses: Object.fromEntries(entries), state: out.input.state };
    }
  }

  /** The answers a stateless retry carries; a state that fails verification is refused. */
  function incomingInput(params: JsonObject, binding: string): CallContext["input"] {
    const responses = params.inputResponses;
    const token = params.requestState;
    if (responses === undefined && token === undefined) return undefined;
    if (responses !== undefined && !isObjectOfObjects(responses)) {
      throw new JsonRpcError(ErrorCode.InvalidParams, "inputResponses must map each key to a result object");
    }
    let state: Uint8Array = new Uint8Array();
    if (token !== undefined) {
      const opened = typeof token === "string" ? sealer.open(token, binding) : undefined;
      if (!opened)
        throw new JsonRpcError(ErrorCode.InvalidParams, "requestState is invalid, altered or expired");
      state = opened;
    }
    return { responses: (responses ?? {}) as { [key: string]: JsonObject }, state };
  }

  /**
   * The input requests the client can answer; when none, a
   * MissingRequiredClientCapability error (MCP 2026-07-28 basic/lifecycle).
   */
  function admissible(input: InputRequired, ex: Exchange): InputRequired["requests"] {
    const out: { [key: string]: InputRequired["requests"][string] } = {};
    const missing: { [k: string]: JsonObject } = {};
    for (const [key, r] of Object.entries(input.requests)) {
      const capability = INPUT_CAPABILITY[r.method];
      if (capability && ex.clientCapabilities[capability] === undefined) missing[capability] = {};
      else out[key] = r;
    }
    if (Object.keys(out).length === 0) {
      throw new JsonRpcError(
        McpErrorCode.MissingRequiredClientCapability,
        `The client lacks a capability this request needs: ${Object.keys(missing).join(", ") || "input"}`,
        { requiredCapabilities: missing },
      );
    }
    return out;
  }

  /** Metadata and relays for one backend call: identity, request id, progress and logs. */
  async function callContext(
    backend: string,
    id: RequestId | undefined,
    params: JsonObject,
    ex: Exchange,
  ): Promise<CallContext> {
    // Without a caller there is no identity metadata; with one, it is usually at hand: await only a promise.
    const pending =
      ex.identity && options.backendHeaders ? options.backendHeaders(backend, ex.identity) : undefined;
    const identity = pending instanceof Promise ? await pending : pending;
    const meta = params._meta as JsonObject | undefined;
    const token = meta?.progressToken;
    const progressToken = typeof token === "string" || typeof token === "number" ? token : undefined;
    const headers: { [key: string]: string } = identity ? { ...identity } : {};
    if (id !== undefined) headers["mcpengine-request-id"] = String(id);
    if (progressToken !== undefined) headers["mcpengine-progress-token"] = String(progressToken);
    const ctx: CallContext = {
      signal: ex.signal,
      headers,
      ...(progressToken !== undefined
        ? {
            onProgress: (p) => ex.notify("notifications/progress", { progressToken, ...p } as JsonObject),
          }
        : {}),
      onLog: (level, logger, data) => {
        const minimum = ex.session ? ex.session.logLevel : ex.logLevel;
        if (!passesLevel(level, minimum)) return;
        ex.notify("notifications/message", logger ? { level, logger, data } : { level, data });
      },
    };
    return ctx;
  }

  function backendOf(def: Bound): BackendHandle {
    const backend = cat.backends.get(def.backend);
    if (!backend) throw new JsonRpcError(ErrorCode.InternalError, `No backend "${def.backend}"`);
    return backend;
  }

  const CACHEABLE = new Set([
    "server/discover",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "resources/read",
  ]);

  return {
    close() {
      for (const stop of listening) stop.abort();
    },
    setCatalog(catalog) {
      cat = snapshot(catalog);
    },
    knows(method, stateless) {
      return COMMON.has(method) || (stateless ? STATELESS_ONLY.has(method) : SESSION_ONLY.has(method));
    },
    async handle(req, ex) {
      try {
        if (!this.knows(req.method, ex.stateless)) {
          throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method}`);
        }
        const result = (await dispatch(req, ex)) as { [k: string]: unknown };
        if (ex.stateless) {
          // MCP 2026-07-28: every result says whether it is complete; cacheable ones say for how long.
          if (result.resultType === undefined) result.resultType = "complete";
          if (CACHEABLE.has(req.method) && result.resultType === "complete") {
            result.ttlMs = req.method === "resources/read" ? 0 : LIST_TTL_MS;
            result.cacheScope = cacheScope;
          }
        }
        return success(req.id, result);
      } catch (err) {
        if (err instanceof InsufficientScopeError) throw err;
        if (err instanceof JsonRpcError) return failure(req.id, err.code, err.message, err.data);
        return failure(req.id, ErrorCode.InternalError, "Internal error");
      }
    },
  };
}

/**
 * Checks that every `Mcp-Param-*` header agrees with the argument it mirrors
 * (MCP 2026-07-28 basic/transports "Server Behavior for Custom Headers").
 */
function checkParamHeaders(
  tool: ToolDef,
  args: JsonValue | undefined,
  header: (name: string) => string | undefined,
): void {
  const given = typeof args === "object" && args !== null && !Array.isArray(args) ? args : {};
  for (const p of tool.headerParams) {
    const raw = header(`mcp-param-${p.header.toLowerCase()}`);
    const value = given[p.argument];
    const mismatch = (why: string) =>
      new JsonRpcError(McpErrorCode.HeaderMismatch, `Mcp-Param-${p.header} ${why}`, {
        header: `Mcp-Param-${p.header}`,
      });
    if (value === undefined || value === null) {
      if (raw !== undefined) throw mismatch(`is set but arguments.${p.argument} is absent`);
      continue;
    }
    if (raw === undefined) throw mismatch(`is required when arguments.${p.argument} is present`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) throw mismatch("has an invalid value");
    if (decoded !== headerText(value)) throw mismatch(`does not match arguments.${p.argument}`);
  }
}

function bindTemplate(t: ResourceTemplateDef, vars: Map<string, string>): JsonObject {
  const request: JsonObject = {};
  for (const [name, value] of vars) {
    const field = t.bindings.get(name);
    if (field) request[field.jsonName] = value;
  }
  return request;
}

function promptRequest(prompt: PromptDef, args: JsonValue | undefined): JsonObject {
  if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.arguments must be an object of strings");
  }
  const given = (args ?? {}) as JsonObject;
  const request: JsonObject = {};
  for (const a of prompt.arguments) {
    const v = given[a.name] ?? given[a.field.name];
    if (v === undefined || v === null) {
      if (a.required) throw new JsonRpcError(ErrorCode.InvalidParams, `Missing required argument: ${a.name}`);
      continue;
    }
    if (typeof v !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, `Argument ${a.name} must be a string`);
    request[a.field.jsonName] = v;
  }
  return request;
}

/** The catalog's tools, surface and backends. */
export interface Catalog {
  readonly tools: readonly ToolDef[];
  readonly surface?: Surface;
  readonly backends: ReadonlyMap<string, BackendHandle>;
}

/** Everything derived from a catalog, built once per catalog: lookups, wire forms, capabilities. */
function snapshot(catalog: Catalog) {
  const surface: Surface = catalog.surface ?? {
    resources: [],
    templates: [],
    prompts: [],
    completion: undefined,
    subscription: undefined,
  };
  const lists = {
    tools: catalog.tools.map((t) => ({
      def: t as Bound & { scopes: readonly string[] },
      wire: describeTool(t),
    })),
    resources: surface.resources.map((r) => ({
      def: r as Bound,
      wire: strip({
        uri: r.uri,
        name: r.name,
        title: r.title,
        description: r.description,
        mimeType: r.mimeType,
      }),
    })),
    resourceTemplates: surface.templates.map((t) => ({
      def: t as Bound,
      wire: strip({
        uriTemplate: t.uriTemplate,
        name: t.name,
        title: t.title,
        description: t.description,
        mimeType: t.mimeType,
      }),
    })),
    prompts: surface.prompts.map((p) => ({ def: p as Bound, wire: describePrompt(p) })),
  };
  const hasResources = surface.resources.length > 0 || surface.templates.length > 0;
  return {
    surface,
    backends: catalog.backends,
    toolsByName: new Map(catalog.tools.map((t) => [t.name, t])),
    promptsByName: new Map(surface.prompts.map((p) => [p.name, p])),
    resourcesByUri: new Map(surface.resources.map((r) => [r.uri, r])),
    lists,
    /**
     * MCP 2025-11-25 basic/lifecycle "Capability Negotiation". Tools may change while a
     * session lasts (a backend that comes up late), announced by notifications/tools/list_changed.
     */
    sessionCapabilities: strip({
      tools: { listChanged: true },
      resources: hasResources
        ? { subscribe: surface.subscription !== undefined, listChanged: false }
        : undefined,
      prompts: surface.prompts.length > 0 ? { listChanged: false } : undefined,
      completions: surface.completion ? {} : undefined,
      logging: {},
    }) as JsonObject,
    /** Stateless: resource updates through subscriptions/listen; lists are cached for their ttlMs. */
    statelessCapabilities: strip({
      tools: {},
      resources: hasResources ? (surface.subscription ? { subscribe: true } : {}) : undefined,
      prompts: surface.prompts.length > 0 ? {} : undefined,
      completions: surface.completion ? {} : undefined,
      logging: {},
    }) as JsonObject,
  };
}

/** The wire form of a tool in tools/list (MCP 2025-11-25 server/tools "Tool"). */
function describeTool(t: ToolDef): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = { name: t.name };
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  out.inputSchema = t.inputSchema;
  if (t.outputSchema !== undefined) out.outputSchema = t.outputSchema;
  if (Object.keys(t.annotations).length > 0) out.annotations = t.annotations;
  return out;
}

/** The wire form of a prompt in prompts/list (MCP 2025-11-25 server/prompts "Prompt"). */
function describePrompt(p: PromptDef): { [k: string]: unknown } {
  return strip({
    name: p.name,
    title: p.title,
    description: p.description,
    arguments: p.arguments.map((a) =>
      strip({ name: a.name, description: a.description, required: a.required }),
    ),
  });
}

function errorToolResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

function isObjectOfObjects(v: JsonValue): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => typeof x === "object" && x !== null && !Array.isArray(x));
}

/** Opaque list cursors (MCP 2025-11-25 server/utilities/pagination "Cursors"). */
function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString("base64url");
}

function decodeCursor(cursor: JsonValue | undefined): number {
  if (cursor === undefined || cursor === null) return 0;
  const m =
    typeof cursor === "string" ? /^o:(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString()) : null;
  if (!m) throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid cursor");
  return Number(m[1]);
}

/** Drops undefined members. */
function strip<T extends { [k: string]: unknown }>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
