import type { JsonObject } from "@bufbuild/protobuf";
import { dispatch, type HandlerErrorSink } from "../memory-bus.js";
import type { BusMessage, RequestId, SessionBus } from "../types.js";
import type { RedisClient } from "./client.js";

type Handler = (message: BusMessage) => void;

/** One channel this process listens to, and its handlers (replaced, never changed in place). */
interface Channel {
  handlers: readonly Handler[];
  /** Settles when Redis acknowledged the SUBSCRIBE. */
  readonly ready: Promise<void>;
}

/**
 * The session bus on Redis pub/sub: one channel per session
 * (`<prefix>bus:<session>`), one subscriber connection per process, its
 * messages handed to this process's handlers of that session synchronously, in
 * the order Redis delivers them (the order they were published, per
 * publisher). Delivery is at most once: a replica that is disconnected when a
 * message is published misses it. After a reconnect ioredis subscribes the
 * channels again by itself.
 */
export class RedisSessionBus implements SessionBus {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly onHandlerError: HandlerErrorSink,
  ) {
    subscriber.redis.on("message", (channel: string, text: string) => this.deliver(channel, text));
  }

  publish(session: string, message: BusMessage): Promise<void> {
    return this.publisher.redis
      .publish(`${this.prefix}bus:${session}`, JSON.stringify(message))
      .then(ignore, this.publisher.fail);
  }

  subscribe(session: string, handler: Handler): Promise<() => void> {
    const name = `${this.prefix}bus:${session}`;
    let channel = this.channels.get(name);
    if (channel) {
      channel.handlers = [...channel.handlers, handler];
    } else {
      const ready = this.subscriber.redis.subscribe(name).then(ignore, (err: unknown) => {
        // A failed SUBSCRIBE leaves nothing behind: the next subscribe tries afresh.
        if (this.channels.get(name) === created) this.channels.delete(name);
        throw this.subscriber.unavailable(err);
      });
      const created: Channel = { handlers: [handler], ready };
      channel = created;
      this.channels.set(name, created);
    }
    const entry = channel;
    let subscribed = true;
    const unsubscribe = () => {
      if (!subscribed) return;
      subscribed = false;
      this.remove(name, entry, handler);
    };
    return entry.ready.then(
      () => unsubscribe,
      (err: unknown) => {
        unsubscribe();
        throw err;
      },
    );
  }

  /** Forgets every handler (the shared state is closing; the connection goes with it). */
  clear(): void {
    this.channels.clear();
  }

  private remove(name: string, entry: Channel, handler: Handler): void {
    const at = entry.handlers.indexOf(handler);
    if (at >= 0) entry.handlers = [...entry.handlers.slice(0, at), ...entry.handlers.slice(at + 1)];
    if (entry.handlers.length > 0 || this.channels.get(name) !== entry) return;
    this.channels.delete(name);
    this.subscriber.redis.unsubscribe(name).catch(ignore);
  }

  private deliver(channel: string, text: string): void {
    const entry = this.channels.get(channel);
    if (!entry) {
      // Subscribed again after a reconnect although nobody listens any more (its UNSUBSCRIBE failed).
      this.subscriber.redis.unsubscribe(channel).catch(ignore);
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      message = undefined;
    }
    if (isBusMessage(message)) dispatch(entry.handlers, message, this.onHandlerError);
    else this.onHandlerError(new Error(`ignored a malformed message on ${channel}`));
  }
}

/** A check of one field of a message read from another replica. */
type Check = (value: unknown) => boolean;

/** A check for every field of message type `M` but its kind: a field added to `M` must be added here. */
type Shape<M> = { readonly [F in Exclude<keyof M, "kind">]-?: Check };

/**
 * The fields of each kind of {@link BusMessage}. The mapped types make a kind
 * or a field added to the union without a check here a type error, so the
 * guard cannot drift from the type.
 */
const SHAPES: { readonly [K in BusMessage["kind"]]: Shape<Extract<BusMessage, { kind: K }>> } = {
  event: { stream: isString, seq: Number.isSafeInteger, data: isString },
  end: { stream: isString },
  cancel: { requestId: isRequestId, reason: isString },
  answer: { id: isRequestId, response: isObject },
  notify: { data: isString },
  unsubscribe: { uri: isString, by: isString },
  attached: { stream: isString, by: isString },
  closed: {},
  task: {},
};

/** Whether a value read from another replica is a {@link BusMessage}. */
export function isBusMessage(value: unknown): value is BusMessage {
  if (!isObject(value) || typeof value.kind !== "string" || !Object.hasOwn(SHAPES, value.kind)) return false;
  const shape: { readonly [field: string]: Check } = SHAPES[value.kind as BusMessage["kind"]];
  for (const field in shape) if (!shape[field]?.(value[field])) return false;
  return true;
}

function isString(value: unknown): boolean {
  return typeof value === "string";
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || typeof value === "number";
}

function ignore(): void {}
