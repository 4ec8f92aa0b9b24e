import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { Counter3, Histogram3 } from "./series.js";

/** Auth outcomes counted by `mcpengine_auth_requests_total` (RFC 6750 §3.1 error codes, plus ours). */
export type AuthOutcome =
  | "ok"
  /** No token: the first step of the OAuth dance, not an attack. */
  | "missing"
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  /** The identity provider failed (discovery, keys, introspection): the token was refused unjudged. */
  | "error";

/** What the resource server counted since it started (see `ResourceServer.stats`). */
export interface AuthCounts {
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly outcomes: { readonly [O in Exclude<AuthOutcome, "insufficient_scope">]: number };
}

/** What the metrics read when they are scraped (gauges and counters kept elsewhere). */
export interface MetricsSources {
  /** Sessions (with a shared store: those live on this replica). */
  sessions?(): number;
  /** SSE streams attached to this replica. */
  streams?(): number;
  /** Bytes kept for stream replay in this process (absent with a shared store). */
  replayBytes?(): number | undefined;
  /** The resource server's counts, when auth is on. */
  auth?(): AuthCounts;
  /** Each configured backend and whether its tools are in the catalog. */
  backends?(): readonly { readonly name: string; readonly ready: boolean }[];
  /** Tools in the catalog in use. */
  tools?(): number;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also collect prom-client's process and Node.js metrics (CPU, memory, event loop lag); default off. */
  readonly process?: boolean;
}

/** Request durations (seconds): from a cached list to a long tool call. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The gateway's metrics, in a registry of its own (never prom-client's global
 * one), so that tests and several gateways in one process keep their counts
 * apart. Label values are bounded: methods are the ones the gateway serves or
 * `unknown`, tools come from the catalog (else `unknown`), backends and RPC
 * methods from the configuration and descriptors, outcomes and codes from
 * fixed sets.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** One answered MCP request. `tool` is "" except for tools/call. */
  request(era: string, method: string, tool: string, outcome: string, seconds: number): void;
  /** One MCP request refused over a limit (`concurrent`, `rate`) per `caller` or `session`; not timed. */
  limited(era: string, method: string, limit: string, scope: string): void;
  /** One backend RPC and its gRPC status code name (`OK`, `UNAVAILABLE`, …). */
  backendCall(backend: string, method: string, code: string, seconds: number): void;
  /** A request refused for a missing scope (the other auth outcomes are the resource server's). */
  insufficientScope(): void;
  /** The gateway served a new catalog (a backend came up, a reload). */
  catalogSwapped(): void;
  /** A reload failed in whole or for a backend (the last good catalog, or that backend's part, is kept). */
  reloadFailed(): void;
  /** Where scrape-time values come from; set once the gateway has built its parts. */
  setSources(sources: MetricsSources): void;
}

/** Creates the metrics of one gateway (names in docs/operations.md "Metrics"). */
export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  let sources: MetricsSources = {};
  let insufficientScope = 0;
  const registers = [registry];

  // The three metrics of every request: series found by label values, not by hashing (series.ts).
  const requests = new Counter3(
    "mcpengine_requests_total",
    "MCP requests answered, by era, method and outcome (ok, tool_error, input_required, cancelled, insufficient_scope, limited, or the JSON-RPC error code)",
    ["era", "method", "outcome"],
    registry,
  );
  const duration = new Histogram3(
    "mcpengine_request_duration_seconds",
    "Time to answer an MCP request, by era, method and tool (tools/call only)",
    ["era", "method", "tool"],
    REQUEST_BUCKETS,
    registry,
  );
  const backendDuration = new Histogram3(
    "mcpengine_backend_rpc_duration_seconds",
    "Backend RPCs by backend, method (package.Service/Method) and gRPC status code, and their duration",
    ["backend", "method", "code"],
    REQUEST_BUCKETS,
    registry,
  );
  // Refusals only, so prom-client's own (slower) series lookup is no cost to the requests served.
  const limited = new Counter({
    name: "mcpengine_requests_limited_total",
    help: "MCP requests refused with 429 over a limit (config limits), by limit (concurrent, rate) and scope (caller, session)",
    labelNames: ["limit", "scope"],
    registers,
  });
  new Counter({
    name: "mcpengine_auth_requests_total",
    help: "Bearer-token checks by outcome: ok, missing, invalid_request, invalid_token, insufficient_scope, error (the identity provider failed)",
    labelNames: ["outcome"],
    registers,
    collect() {
      this.reset();
      const counts = sources.auth?.();
      if (!counts) return;
      for (const [outcome, n] of Object.entries(counts.outcomes)) this.inc({ outcome }, n);
      this.inc({ outcome: "insufficient_scope" }, insufficientScope);
    },
  });
  new Counter({
    name: "mcpengine_token_cache_requests_total",
    help: "Verified-token cache lookups by result (hit, miss); hits skip verification",
    labelNames: ["result"],
    registers,
    collect() {
      this.reset();
      const counts = sources.auth?.();
      if (!counts) return;
      this.inc({ result: "hit" }, counts.cacheHits);
      this.inc({ result: "miss" }, counts.cacheMisses);
    },
  });
  new Gauge({
    name: "mcpengine_sessions",
    help: "Open sessions (with a shared store: those live on this replica)",
    registers,
    collect() {
      this.set(sources.sessions?.() ?? 0);
    },
  });
  new Gauge({
    name: "mcpengine_streams",
    help: "SSE streams attached to this replica (GET streams, resumed and 2024-11-05 streams, POST replies sent as SSE)",
    registers,
    collect() {
      this.set(sources.streams?.() ?? 0);
    },
  });
  new Gauge({
    name: "mcpengine_replay_buffer_bytes",
    help: "Bytes of SSE events kept in memory for resumption (0 with a shared store, which keeps them)",
    registers,
    collect() {
      this.set(sources.replayBytes?.() ?? 0);
    },
  });
  new Gauge({
    name: "mcpengine_tools",
    help: "Tools in the catalog in use",
    registers,
    collect() {
      this.set(sources.tools?.() ?? 0);
    },
  });
  new Gauge({
    name: "mcpengine_backend_ready",
    help: "1 when a backend's descriptors are loaded and its tools served, else 0",
    labelNames: ["backend"],
    registers,
    collect() {
      this.reset();
      for (const b of sources.backends?.() ?? []) this.set({ backend: b.name }, b.ready ? 1 : 0);
    },
  });
  const swaps = new Counter({
    name: "mcpengine_catalog_reloads_total",
    help: "Catalogs swapped in after start-up (a late backend came up, a reload)",
    registers,
  });
  const reloadFailures = new Counter({
    name: "mcpengine_reload_failures_total",
    help: "Reloads that could not be applied, in whole or for one backend (what was served is kept)",
    registers,
  });
  if (options.process) collectDefaultMetrics({ register: registry });

  return {
    registry,
    request(era, method, tool, outcome, seconds) {
      requests.inc(era, method, outcome);
      duration.observe(era, method, tool, seconds);
    },
    limited(era, method, limit, scope) {
      requests.inc(era, method, "limited");
      limited.inc({ limit, scope });
    },
    backendCall(backend, method, code, seconds) {
      backendDuration.observe(backend, method, code, seconds);
    },
    insufficientScope() {
      insufficientScope++;
    },
    catalogSwapped() {
      swaps.inc();
    },
    reloadFailed() {
      reloadFailures.inc();
    },
    setSources(s) {
      sources = s;
    },
  };
}

/**
 * `GET /metrics`: the registry in the Prometheus text format (exposition
 * format 0.0.4). Unauthenticated, like `/healthz`: keep it off the public
 * listener with `metrics_listen` where that matters.
 */
export function metricsHandler(
  registry: Registry,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    req.resume();
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : text);
  };
}
