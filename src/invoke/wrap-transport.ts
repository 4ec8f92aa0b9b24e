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
