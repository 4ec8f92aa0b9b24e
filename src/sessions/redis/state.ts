import { type HandlerErrorSink, warnHandlerError } from "../memory-bus.js";
import type { EventLogBounds, SharedState } from "../types.js";
import { RedisSessionBus } from "./bus.js";
import { RedisClient, type RedisOptions } from "./client.js";
import { RedisEventLog } from "./event-log.js";
import { RedisReplicaRegistry } from "./replicas.js";
import { RedisSessionStore } from "./store.js";
import { RedisTaskStore } from "./tasks.js";

/** Options of {@link createRedisSharedState}. */
export interface RedisSharedStateOptions {
  readonly redis: RedisOptions;
  /** Prefix of every key and channel. */
  readonly keyPrefix: string;
  readonly bounds: EventLogBounds;
  /** TTL of a session record after its last open (the gateway's idle timeout), ms. */
  readonly idleTimeoutMs: number;
  /** Where a bus handler's exception is reported. */
  readonly onHandlerError?: HandlerErrorSink;
  /** How long to wait for the first connection before answering anyway. */
  readonly connectWaitMs: number;
}

/**
 * The shared state on Redis: two connections (commands, and the pub/sub
 * subscriber), both failing fast and reconnecting by themselves. Resolves once
 * both are connected, or once a first attempt failed (or `connectWaitMs`
 * passed): the gateway starts either way, `ready()` says whether Redis answers,
 * and every operation rejects with `SharedStateUnavailable` until it does.
 */
export async function createRedisSharedState(options: RedisSharedStateOptions): Promise<SharedState> {
  const commands = new RedisClient(options.redis, "commands");
  const subscriber = new RedisClient(options.redis, "subscriber");
  await Promise.all([commands.settled(options.connectWaitMs), subscriber.settled(options.connectWaitMs)]);
  const prefix = options.keyPrefix;
  const bus = new RedisSessionBus(commands, subscriber, prefix, options.onHandlerError ?? warnHandlerError);
  return {
    kind: "redis",
    sessions: new RedisSessionStore(commands, prefix, options.idleTimeoutMs),
    tasks: new RedisTaskStore(commands, prefix),
    events: new RedisEventLog(commands, prefix, options.bounds),
    bus,
    replicas: new RedisReplicaRegistry(commands, prefix),
    async ready() {
      return (await commands.ping()) && subscriber.redis.status === "ready";
    },
    async close() {
      bus.clear();
      await Promise.all([commands.close(), subscriber.close()]);
    },
  };
}
