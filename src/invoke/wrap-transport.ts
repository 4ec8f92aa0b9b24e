import type { Transport } from "@connectrpc/connect";

/** A transport's unary call, generic in its messages. */
export type UnaryCall = Transport["unary"];

/** A transport's streaming call, generic in its messages. */
export type StreamCall = Transport["stream"];

/** Call metadata, as a transport takes it. */
export type CallHeader = ConstructorParameters<typeof Headers>[0];

/** What {@link wrapTransport} puts around each kind of call; a kind left out is passed through. */
export interface TransportWrappers {
  /** Given the inner transport's unary call, the call to make instead. */
  readonly unary?: (next: UnaryCall) => UnaryCall;
  /** Given the inner transport's streaming call, the call to make instead. */
  readonly stream?: (next: StreamCall) => StreamCall;
}

/**
 * A transport whose calls go through `wrappers` to `inner`: an interceptor
 * `(next) => call` for each kind of call. Connect's own interceptors are set
 * when a transport is created and see a request object; these wrap a
 * transport that exists, with the call's arguments as they are.
 */
export function wrapTransport(inner: Transport, wrappers: TransportWrappers): Transport {
  const unary: UnaryCall = inner.unary.bind(inner);
  const stream: StreamCall = inner.stream.bind(inner);
  return {
    unary: wrappers.unary ? wrappers.unary(unary) : unary,
    stream: wrappers.stream ? wrappers.stream(stream) : stream,
  };
}

/**
 * The one request of a server-streaming call, as the async iterable a
 * transport takes, whose value our own transport and wrappers read at once
 * ({@link firstRequest}): draining an async generator at each layer cost more
 * than the rest of a small streamed call's setup. Connect's transports iterate
 * it as any other.
 */
export class SingleRequest<T> implements AsyncIterable<T> {
  constructor(readonly value: T) {}

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield this.value;
  }
}

/** The first request of a call's input; undefined when it has none. */
export function firstRequest<T>(input: AsyncIterable<T>): T | undefined | Promise<T | undefined> {
  if (input instanceof SingleRequest) return input.value as T;
  return (async () => {
    for await (const m of input) return m;
    return undefined;
  })();
}
