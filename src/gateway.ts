import { createResourceServer, type ResourceServer } from "./auth/index.js";
import {
  type BackendServices,
  buildSurface,
  buildTools,
  type Surface,
  type ToolDef,
} from "./catalog/index.js";
import type { BackendConfig, GatewayConfig } from "./config/index.js";
import { DescriptorError, loadDescriptors } from "./descriptors/index.js";
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
import {
  type BackendHandle,
  createArgumentValidator,
  createBackendTransport,
  createReflectionTransport,
  InflightLimit,
} from "./invoke/index.js";
import { type Catalog, createMcpServer, type McpServer } from "./mcp/index.js";
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

/** Whether a backend's descriptors are loaded, and why not. */
export interface BackendStatus {
  readonly name: string;
  readonly ready: boolean;
  /** The last failure to load its descriptors, while not ready. */
  readonly error?: string;
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
  /**
   * Starts the HTTP(S) listener on the configured address, with `/readyz`
   * (backends, IdP keys, Redis) and a drain that ends GET streams with a
   * `retry` hint and waits for the requests running here.
   */
  listen(): Promise<HttpListener>;
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
}

/** Longest wait between two attempts to reach a backend that is down. */
const MAX_RETRY_MS = 30_000;

interface BackendSlot {
  readonly config: BackendConfig;
  services?: BackendServices["services"];
  handle?: BackendHandle;
  /** Ends the backend's connections (those of the handle's transport). */
  closeConnections?: () => void;
  error?: string;
  timer?: NodeJS.Timeout;
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
 * invalid, or a backend without reflection, remain start-up errors.
 */
export async function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const observe = createObservability(options);
  const logger = observe.logger;
  const firstRetryMs = options.retryMs ?? 1_000;
  const slots: BackendSlot[] = config.backends.map((b) => ({ config: b }));
  /** Backend calls in flight over all backends (each backend also has its own bound). */
  const inflight = new InflightLimit(config.maxInflight);
  let closed = false;

  /** Loads one backend's descriptors; `down` when it could not be reached, else throws. */
  async function load(slot: BackendSlot): Promise<"ready" | "down"> {
    const b = slot.config;
    const origin = `backend "${b.name}"`;
    let reflection: ReturnType<typeof createReflectionTransport> | undefined;
    let loaded: Awaited<ReturnType<typeof loadDescriptors>>;
    try {
      if (b.descriptors.kind === "file") {
        loaded = await loadDescriptors({ ...b.descriptors, origin });
      } else {
        // Reflection is a gRPC service: always asked over gRPC, whatever the backend's call protocol.
        reflection = createReflectionTransport(b.target, { tls: b.tls, headers: b.headers });
        loaded = await loadDescriptors({
          kind: "reflection",
          transport: reflection.transport,
          origin: `${origin} (${b.target})`,
        });
      }
    } catch (err) {
      if (err instanceof DescriptorError && (err.code === "unavailable" || err.code === "timeout")) {
        slot.error = err.message;
        return "down";
      }
      throw err;
    } finally {
      reflection?.close();
    }
    const wanted = new Set(b.services);
    const services = loaded.services.filter((s) => wanted.size === 0 || wanted.has(s.typeName));
    for (const name of wanted) {
      if (!services.some((s) => s.typeName === name)) {
        throw new Error(`${origin}: service ${name} is not in its descriptors`);
      }
    }
    slot.services = services;
    const transport = createBackendTransport({
      target: b.target,
      name: b.name,
      protocol: b.protocol,
      maxMessageBytes: config.maxResultBytes,
      tls: b.tls,
      headers: b.headers,
      keepaliveMs: b.keepaliveMs,
      maxAttempts: b.maxAttempts,
    });
    slot.closeConnections = () => transport.close();
    slot.handle = {
      name: b.name,
      transport,
      maxResultBytes: config.maxResultBytes,
      limits: [new InflightLimit(b.maxInflight), inflight],
      registry: loaded.registry,
      timeoutMs: b.timeoutMs,
      validator: createArgumentValidator(loaded.registry),
    };
    slot.handle = observe.backend(slot.handle);
    delete slot.error;
    return "ready";
  }

  /** The catalog of the backends that are ready. */
  function catalog(): Catalog & { tools: ToolDef[]; surface: Surface } {
    const input: BackendServices[] = [];
    const backends = new Map<string, BackendHandle>();
    for (const slot of slots) {
      if (!slot.services || !slot.handle) continue;
      input.push({ backend: slot.config.name, services: slot.services });
      backends.set(slot.config.name, slot.handle);
    }
    return { tools: buildTools(input), surface: buildSurface(input), backends };
  }

  function retry(slot: BackendSlot, delayMs: number): void {
    if (closed) return;
    logger.warn(
      { backend: slot.config.name, error: slot.error, retryIn: formatMs(delayMs) },
      `backend "${slot.config.name}" is not ready; retrying in ${formatMs(delayMs)}`,
    );
    slot.timer = setTimeout(async () => {
      delete slot.timer;
      if (closed) return;
      try {
        if ((await load(slot)) === "down") return retry(slot, Math.min(delayMs * 2, MAX_RETRY_MS));
        const next = catalog();
        current = next;
        mcp.setCatalog(next);
        observe.metrics?.catalogSwapped();
        http.broadcast("notifications/tools/list_changed");
        const count = next.tools.filter((t) => t.backend === slot.config.name).length;
        logger.info({ backend: slot.config.name, tools: count }, `backend "${slot.config.name}" is ready`);
      } catch (err) {
        // Reachable now, but its descriptors are unusable (or clash with another backend's): an
        // operator must act; keep serving the others and try again later.
        delete slot.services;
        delete slot.handle;
        slot.closeConnections?.();
        slot.error = err instanceof Error ? err.message : String(err);
        retry(slot, MAX_RETRY_MS);
      }
    }, delayMs);
    slot.timer.unref();
  }

  const states = await Promise.all(slots.map(load));
  let current = catalog();
  const auth = config.auth
    ? createResourceServer(config.auth, {
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        onProviderFailure: (stage, cause) => observe.providerFailure(stage, cause),
      })
    : undefined;
  const mcp = createMcpServer({
    info: { name: config.serverName, version: VERSION },
    ...current,
    enforceScopes: auth !== undefined,
    backendHeaders: createBackendCredentials(config),
    ...(config.stateKey ? { stateKey: config.stateKey } : {}),
  });
  // A Redis store is this gateway's to open and close; a given state belongs to its maker.
  const ownState =
    !options.state && config.store.kind === "redis"
      ? await createSharedState({
          redis: { url: config.store.url },
          keyPrefix: config.store.keyPrefix,
          bounds: eventLogBounds({ ...DEFAULT_SESSION_LIMITS, ...config.sessions }),
          idleTimeoutMs: config.sessions.idleTimeoutMs,
        })
      : undefined;
  const state = options.state ?? ownState;
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
      observe.interceptors(transport, mcp.knows, (name) => toolNames(current.tools).has(name)),
    ...(auth ? { auth } : {}),
    ...(state ? { state } : {}),
  });
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
    backends: () => slots.map((s) => ({ name: s.config.name, ready: s.handle !== undefined })),
    tools: () => current.tools.length,
  });
  const metricsRoute = observe.metrics ? metricsHandler(observe.metrics.registry) : undefined;
  if (metricsRoute && !config.metricsListen) routes.set("/metrics", metricsRoute);
  if (auth) {
    const metadata = createMetadataHandler(auth);
    for (const path of auth.metadataPaths) routes.set(path, metadata);
  }
  slots.forEach((slot, i) => {
    if (states[i] === "down") retry(slot, firstRetryMs);
  });
  function stopRetries(): void {
    closed = true;
    for (const slot of slots) if (slot.timer) clearTimeout(slot.timer);
  }
  /** Ends every backend's connections: they would otherwise outlive the gateway. */
  function closeBackends(): void {
    for (const slot of slots) slot.closeConnections?.();
  }
  return {
    get tools() {
      return current.tools;
    },
    get surface() {
      return current.surface;
    },
    http,
    mcp,
    auth,
    metrics: observe.metrics?.registry,
    backends: () =>
      slots.map((s) =>
        s.handle
          ? { name: s.config.name, ready: true }
          : { name: s.config.name, ready: false, error: s.error ?? "" },
      ),
    async close() {
      stopRetries();
      http.close();
      closeBackends();
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
      const listener = await listen(config.host, config.port, routes, {
        maxConnections: config.maxConnections,
        requestTimeoutMs: config.requestTimeoutMs,
        ...(config.tls ? { tls: config.tls } : {}),
        readiness: createGatewayReadiness({
          backends: () =>
            slots.map((s) => ({
              name: s.config.name,
              target: s.config.target,
              ready: s.handle !== undefined,
              ...(s.error ? { error: s.error } : {}),
            })),
          ...(auth ? { auth } : {}),
          ...(state ? { store: state } : {}),
        }),
        onDrain: () => {
          stopRetries();
          http.drain();
        },
        busy: () => http.running(),
      });
      logStartup(logger, {
        url: `${listener.url}${config.path}`,
        backends: slots.map((s) => ({
          name: s.config.name,
          ready: s.handle !== undefined,
          tools: current.tools.filter((t) => t.backend === s.config.name).length,
        })),
        ...(config.auth ? { issuer: config.auth.issuer } : {}),
        store: config.store.kind,
        metrics: metricsListener
          ? `${metricsListener.url}/metrics`
          : metricsRoute
            ? `${listener.url}/metrics`
            : "off",
        tracing: options.tracing !== false,
      });
      return {
        server: listener.server,
        url: listener.url,
        get draining() {
          return listener.draining;
        },
        drain: (timeoutMs) => listener.drain(timeoutMs),
        close: async () => {
          stopRetries();
          http.close();
          await metricsListener?.close();
          await listener.close();
          closeBackends();
          await ownState?.close();
        },
      };
    },
  };
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
