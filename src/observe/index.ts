import type { ProviderStage } from "../auth/index.js";
import type { McpTransport } from "../http/index.js";
import type { BackendHandle } from "../invoke/index.js";
import type { Era, McpInterceptor } from "../mcp/index.js";
import { observeTransport } from "./backend.js";
import { type Logger, silentLogger } from "./logger.js";
import { createMetrics, type GatewayMetrics, type MetricsOptions } from "./metrics.js";
import { observeRequests } from "./requests.js";
import { gatewayTracer } from "./tracing.js";

export type { Registry } from "prom-client";
export {
  createLogger,
  isLogFormat,
  isLogThreshold,
  LOG_FORMATS,
  LOG_THRESHOLDS,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogSink,
  type LogThreshold,
  silentLogger,
} from "./logger.js";
export {
  type AuthCounts,
  type AuthOutcome,
  createMetrics,
  type GatewayMetrics,
  type MetricsOptions,
  type MetricsSources,
  metricsHandler,
} from "./metrics.js";
export { REDACTED, redactText } from "./redact.js";
export { logStartup, type StartupSummary, toolNames } from "./startup.js";

/** Options of {@link createObservability}: each part can be turned off here, and only here. */
export interface ObservabilityOptions {
  /** Where the gateway logs; default: nowhere (a silent logger). */
  readonly logger?: Logger;
  /** Metrics (a registry of the gateway's own); default on. */
  readonly metrics?: boolean | MetricsOptions;
  /** Spans through `@opentelemetry/api` and W3C trace context to backends; default on (a no-op without an SDK). */
  readonly tracing?: boolean;
}

/** What the gateway needs to observe itself: the logger, the metrics and the interceptors to install. */
export interface Observability {
  readonly logger: Logger;
  /** Absent when metrics are off. */
  readonly metrics: GatewayMetrics | undefined;
  /**
   * The interceptors around the core's `handle` for one transport (see
   * {@link observeRequests}): `knows` bounds the method label, `isTool` the tool label.
   */
  interceptors(
    transport: McpTransport,
    knows: (method: string, era: Era) => boolean,
    isTool: (name: string) => boolean,
  ): readonly McpInterceptor[];
  /** The backend with its transport measured, traced and logged (see {@link observeTransport}). */
  backend(handle: BackendHandle): BackendHandle;
  /**
   * Logs an identity-provider failure with its cause, at most once per stage
   * every {@link PROVIDER_LOG_INTERVAL_MS} (the count of those left out goes with the next).
   */
  providerFailure(stage: ProviderStage, cause: unknown): void;
}

/** An unreachable identity provider fails every new token: one line per stage this often is enough. */
export const PROVIDER_LOG_INTERVAL_MS = 10_000;

/** Creates the observability of one gateway (docs/operations.md). */
export function createObservability(options: ObservabilityOptions = {}): Observability {
  const logger = options.logger ?? silentLogger();
  const metrics =
    options.metrics === false
      ? undefined
      : createMetrics(typeof options.metrics === "object" ? options.metrics : {});
  const tracer = options.tracing === false ? undefined : gatewayTracer();
  const parts = { logger, ...(metrics ? { metrics } : {}), ...(tracer ? { tracer } : {}) };
  const lastLogged = new Map<ProviderStage, { at: number; suppressed: number }>();

  return {
    logger,
    metrics,
    interceptors(transport, knows, isTool) {
      return [observeRequests({ transport, knows, isTool, ...parts })];
    },
    backend(handle) {
      return { ...handle, transport: observeTransport(handle.transport, { backend: handle.name, ...parts }) };
    },
    providerFailure(stage, cause) {
      const now = Date.now();
      const last = lastLogged.get(stage);
      if (last && now - last.at < PROVIDER_LOG_INTERVAL_MS) {
        last.suppressed++;
        return;
      }
      const suppressed = last?.suppressed ?? 0;
      lastLogged.set(stage, { at: now, suppressed: 0 });
      logger.error(
        { stage, err: cause, ...(suppressed > 0 ? { suppressed } : {}) },
        `identity provider failure (${stage}): tokens cannot be verified and are refused as invalid_token`,
      );
    },
  };
}
