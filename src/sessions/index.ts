import { createMemorySharedState } from "./memory.js";
import type { HandlerErrorSink } from "./memory-bus.js";
import type { RedisOptions } from "./redis/client.js";
import type { EventLogBounds, SharedState } from "./types.js";

export { SharedStateUnavailable } from "./errors.js";
export { createMemorySharedState, type MemorySharedStateOptions } from "./memory.js";
export type { HandlerErrorSink } from "./memory-bus.js";
export type { RedisOptions } from "./redis/client.js";
export type * from "./types.js";
export { taskChannel } from "./types.js";

/** The key prefix when none is configured. */
export const DEFAULT_KEY_PREFIX = "mcpengine:";

/** Options of {@link createSharedState}. */
export interface SharedStateOptions {
  /** Where the state lives: Redis when set (every replica sees it), else this process's memory. */
  readonly redis?: RedisOptions;
  /** Prefix of every Redis key and channel. Default `mcpengine:`. */
  readonly keyPrefix?: string;
  /** Bounds of the resumable event logs. */
  readonly bounds: EventLogBounds;
  /**
   * How long a session record lives in Redis after its last request (the
   * sessions' idle timeout), ms: a record whose gateway stopped for good
   * expires by itself. Default 30 minutes. Unused in memory, where `sweep` alone closes idle sessions.
   */
  readonly idleTimeoutMs?: number;
  /** Where a bus handler's exception is reported. Default: a process warning. */
  readonly onHandlerError?: HandlerErrorSink;
  /** How long to wait for Redis at start before answering anyway (ms). Default 2000. */
  readonly connectWaitMs?: number;
}

/**
 * The state that every replica of the gateway must see for session-era MCP
 * (MCP 2025-11-25 basic/transports "Session Management" and "Resumability and
 * Redelivery"): in memory for one replica, on Redis for many. With Redis, the
 * promise resolves even while Redis is down (`ready()` tells, and operations
 * reject with {@link SharedStateUnavailable} until it is back); ioredis is
 * loaded only then.
 */
export async function createSharedState(options: SharedStateOptions): Promise<SharedState> {
  if (!options.redis) {
    return createMemorySharedState({
      bounds: options.bounds,
      ...(options.onHandlerError ? { onHandlerError: options.onHandlerError } : {}),
    });
  }
  const { createRedisSharedState } = await import("./redis/state.js");
  return createRedisSharedState({
    redis: options.redis,
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    bounds: options.bounds,
    idleTimeoutMs: options.idleTimeoutMs ?? 30 * 60_000,
    connectWaitMs: options.connectWaitMs ?? 2_000,
    ...(options.onHandlerError ? { onHandlerError: options.onHandlerError } : {}),
  });
}
