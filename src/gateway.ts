import { type AdminListener, listenAdmin } from "./admin/index.js";
import { createResourceServer, type ResourceServer } from "./auth/index.js";
import { createBackendSet, type ReloadOutcome } from "./backend-set.js";
import type { Surface, ToolDef } from "./catalog/index.js";
import type { GatewayConfig } from "./config/index.js";
import { createGatewayReadiness } from "./health/index.js";
import {
  createMcpHttp,
  createMetadataHandler,
  createOriginPolicy,
  DEFAULT_SESSION_LIMITS,
  eventLogBounds,
  type HttpHandler,
  type HttpListener,
  listen,
  type McpHttp,
} from "./http/index.js";
import { createBackendCredentials } from "./identity.js";
import { createMcpServer, type McpServer } from "./mcp/index.js";
import {
  createObservability,
  type Logger,
  logStartup,
  type MetricsOptions,
  metricsHandler,
  type Registry,
  toolNames,
} from "./observe/index.js";
import { createSharedState, type SharedState } from "./sessions/index.js";
import { VERSION } from "./version.js";

export type { ReloadOutcome } from "./backend-set.js";

/** Whether a backend's descriptors are loaded, and why not. */
export interface BackendStatus {
  readonly name: string;
  /** Where it is called (`target`). */
  readonly target: string;
  readonly ready: boolean;
  /** Tools of this backend in the catalog being served. */
  readonly tools: number;
  /** The last failure to load its descriptors, while not ready. */
  readonly error?: string;
}

/** The gateway's listener, and the admin API's when `admin_listen` is set. */
export interface GatewayListener extends HttpListener {
  /** Base URL of the admin API (`mcpengine.v1.AdminService`); absent without `admin_listen`. */
  readonly adminUrl?: string;
}

/** A running (or ready to run) gateway. */
export interface Gateway {
  /** The tools of the current catalog (it grows as late backends come up). */
  readonly tools: readonly ToolDef[];
  /** Resources, templates, prompts, completion and subscription handlers of the current catalog. */
  readonly surface: Surface;
  /** The HTTP endpoints (sessions live here). */
  readonly http: McpHttp;
  readonly mcp: McpServer;
  /** The resource server, when auth is configured. */
  readonly auth: ResourceServer | undefined;
  /** The gateway's metrics (served on `/metrics`), unless turned off. */
  readonly metrics: Registry | undefined;
  /** Each configured backend, in config order. */
  backends(): readonly BackendStatus[];
  /** When the catalog being served was swapped in. */
  readonly catalogLoadedAt: Date;
  /**
   * Reads every backend's descriptors again (and the configuration file, when
   * {@link GatewayOptions.reloadConfig} is given) and swaps in the new catalog
   * if it differs; a failure keeps the catalog being served.
   */
  reload(): Promise<ReloadOutcome>;
  /**
   * Starts the HTTP(S) listener on the configured address, with `/readyz`
   * (backends, IdP keys, Redis) and a drain that ends GET streams with a
   * `retry` hint and waits for the requests running here.
   */
  listen(): Promise<GatewayListener>;
  /** Stops retrying backends that are not ready and ends every session. */
  close(): Promise<void>;
}

/** Options of {@link createGateway} that are not configuration. */
export interface GatewayOptions {
  /**
   * Where the gateway logs (a pino logger: `createLogger` in src/observe):
   * a line per MCP request at `info`, start-up, backends not ready and
   * failed backend calls, identity-provider failures; default: nowhere.
   */
  readonly logger?: Logger;
  /** Metrics on `/metrics` (or `metrics_listen`); default on. */
  readonly metrics?: boolean | MetricsOptions;
  /** Spans and W3C trace context to backends through `@opentelemetry/api`; default on (a no-op without an SDK). */
  readonly tracing?: boolean;
  /** First delay before retrying a backend that was unreachable (doubles up to 30 s; default 1 s). */
  readonly retryMs?: number;
  /** The shared session state, when made by the caller (replicas in one process, in tests); closed by its maker. */
  readonly state?: SharedState;
  /**
   * Reads the configuration again, for {@link Gateway.reload} (SIGHUP, the admin API): backends
   * added, removed or changed take effect; other changed settings are logged as needing a restart.
   */
  readonly reloadConfig?: () => Promise<GatewayConfig>;
}

/**
 * Creates a gateway from its configuration: loads every backend's descriptors
 * (file or server reflection), builds the tool catalog — failing fast on name
 * collisions — and wires the MCP core to the Streamable HTTP endpoint.
 *
 * A backend that cannot be reached for reflection does not stop the gateway:
 * it starts without that backend's tools, retries with exponential backoff,
 * and when the backend answers, swaps in a catalog with its tools and tells
 * connected sessions (`notifications/tools/list_changed`, MCP 2025-11-25
 * server/tools "List Changed Notification"). Descriptors that are missing or
 * invalid, or a backend without reflection, remain start-up errors. Later,
 * descriptors are read again every `reload_interval` and when a descriptor
 * file changes, and {@link Gateway.reload} re-reads the configuration too
 * (see backend-set.ts); only lists that changed are announced.
 */
export async function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const observe = createObservability(options);
  const logger = observe.logger;
  let loadedAt = new Date();
  /** Set once the MCP core and the HTTP endpoint exist: a catalog served before goes in with them. */
  let wired = false;
  const backendSet = createBackendSet(config, {
    logger,
    wrap: (handle) => observe.backend(handle),
    retryMs: options.retryMs ?? 1_000,
    ...(options.reloadConfig ? { reloadConfig: options.reloadConfig } : {}),
    reloadFailed: () => observe.metrics?.reloadFailed(),
    serve(next) {
      loadedAt = new Date();
      if (!wired) return;
      observe.metrics?.catalogSwapped();
      // MCP 2025-11-25 server/tools (and resources, prompts) "List Changed Notification".
      for (const list of mcp.setCatalog(next)) http.broadcast(`notifications/${list}/list_changed`);
    },
  });
  await backendSet.start();
  const current = () => backendSet.catalog();
  const auth = config.auth
    ? createResourceServer(config.auth, {
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        onProviderFailure: (stage, cause) => observe.providerFailure(stage, cause),
      })
    : undefined;
  // The shared state (this process's memory, or Redis for replicas) is this gateway's to open and
  // close; a given state belongs to its maker. Sessions and tasks both live in it.
  const state: SharedState =
    options.state ??
    (await createSharedState({
      ...(config.store.kind === "redis"
        ? { redis: { url: config.store.url }, keyPrefix: config.store.keyPrefix }
        : {}),
      bounds: eventLogBounds({ ...DEFAULT_SESSION_LIMITS, ...config.sessions }),
      idleTimeoutMs: config.sessions.idleTimeoutMs,
    }));
  const ownState = options.state ? undefined : state;
  const mcp = createMcpServer({
    info: { name: config.serverName, version: VERSION },
    ...current(),
    enforceScopes: auth !== undefined,
    backendHeaders: createBackendCredentials(config, fetch, (name) => backendSet.settings(name)),
    ...(config.stateKey ? { stateKey: config.stateKey } : {}),
    // MCP tasks (extension io.modelcontextprotocol/tasks): any replica sharing the store answers for them.
    tasks: {
      store: state.tasks,
      bus: state.bus,
      replicas: state.replicas,
      leaseMs: config.sessions.replicaLeaseMs,
      ...config.tasks,
    },
  });
  const http = createMcpHttp({
    server: mcp,
    maxBodyBytes: config.maxBodyBytes,
    origin: createOriginPolicy({
      bindHost: config.host,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
    }),
    limits: config.sessions,
    ...(config.limits ? { requestLimits: config.limits } : {}),
    legacyMessagesPath: "/messages",
    intercept: (transport) =>
      observe.interceptors(transport, mcp.knows, (name) => toolNames(current().tools).has(name)),
    ...(auth ? { auth } : {}),
    state,
  });
  wired = true;
  // A backend may have come up while the store connected.
  mcp.setCatalog(current());
  const routes = new Map<string, HttpHandler>([
    [config.path, http.streamable],
    ["/sse", http.sse],
    ["/messages", http.messages],
  ]);
  observe.metrics?.setSources({
    sessions: () => http.sessionCount(),
    streams: () => http.streamCount(),
    replayBytes: () => http.replayBytes(),
    ...(auth ? { auth: () => auth.stats() } : {}),
    backends: () => backendSet.statuses(),
    tools: () => current().tools.length,
  });
  const metricsRoute = observe.metrics ? metricsHandler(observe.metrics.registry) : undefined;
  if (metricsRoute && !config.metricsListen) routes.set("/metrics", metricsRoute);
  if (auth) {
    const metadata = createMetadataHandler(auth);
    for (const path of auth.metadataPaths) routes.set(path, metadata);
  }
  const toolCount = (backend: string) => current().tools.filter((t) => t.backend === backend).length;
  const gateway: Gateway = {
    get tools() {
      return current().tools;
    },
    get surface() {
      return current().surface;
    },
    http,
    mcp,
    auth,
    metrics: observe.metrics?.registry,
    backends: () => backendSet.statuses().map((b) => ({ ...b, tools: toolCount(b.name) })),
    get catalogLoadedAt() {
      return loadedAt;
    },
    reload: () => backendSet.reload(true),
    async close() {
      backendSet.stop();
      http.close();
      backendSet.close();
      await ownState?.close();
    },
    async listen() {
      // A separate metrics listener (`metrics_listen`) serves /metrics (and /healthz) only.
      const metricsListener =
        metricsRoute && config.metricsListen
          ? await listen(
              config.metricsListen.host,
              config.metricsListen.port,
              new Map([["/metrics", metricsRoute]]),
            )
          : undefined;
      // The admin API (`admin_listen`): its own HTTP/2 listener, with the main listener's
      // certificate, and the gateway's bearer auth under `admin_scope` when auth is on.
      const admin: AdminListener | undefined = config.adminListen
        ? await listenAdmin({
            ...config.adminListen,
            source: gateway,
            logger,
            ...(auth ? { auth: { server: auth, scope: config.adminScope } } : {}),
            ...(config.tls ? { tls: config.tls } : {}),
          }).catch(async (err: unknown) => {
            await metricsListener?.close();
            throw err;
          })
        : undefined;
      const listener = await listen(config.host, config.port, routes, {
        maxConnections: config.maxConnections,
        requestTimeoutMs: config.requestTimeoutMs,
        ...(config.tls ? { tls: config.tls } : {}),
        readiness: createGatewayReadiness({
          backends: () => backendSet.statuses(),
          ...(auth ? { auth } : {}),
          // In memory the store is always there; Redis may not answer.
          ...(state.kind === "redis" ? { store: state } : {}),
        }),
        onDrain: () => {
          backendSet.stop();
          http.drain();
        },
        busy: () => http.running(),
      }).catch(async (err: unknown) => {
        // A main listener that cannot bind leaves no side listener open behind it.
        await metricsListener?.close();
        await admin?.close();
        throw err;
      });
      logStartup(logger, {
        url: `${listener.url}${config.path}`,
        backends: backendSet
          .statuses()
          .map((b) => ({ name: b.name, ready: b.ready, tools: toolCount(b.name) })),
        ...(config.auth ? { issuer: config.auth.issuer } : {}),
        store: config.store.kind,
        metrics: metricsListener
          ? `${metricsListener.url}/metrics`
          : metricsRoute
            ? `${listener.url}/metrics`
            : "off",
        ...(admin ? { admin: admin.url } : {}),
        tracing: options.tracing !== false,
      });
      // A drain leaves the admin API up, so operators can watch sessions and requests wind down.
      return {
        server: listener.server,
        url: listener.url,
        ...(admin ? { adminUrl: admin.url } : {}),
        get draining() {
          return listener.draining;
        },
        drain: (timeoutMs) => listener.drain(timeoutMs),
        close: async () => {
          backendSet.stop();
          http.close();
          await metricsListener?.close();
          await admin?.close();
          await listener.close();
          backendSet.close();
          await ownState?.close();
        },
      };
    },
  };
  return gateway;
}

function _formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
