import type {
  DescMessage,
  DescMethod,
  DescMethodStreaming,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
} from "@connectrpc/connect";
import { isBackendDown } from "./h2-connections.js";
import { type CallHeader, firstRequest, SingleRequest, wrapTransport } from "./wrap-transport.js";

/** How calls to idempotent methods are retried. */
export interface RetryPolicy {
  /** Attempts in all, the first one included; 1 turns retries off. */
  readonly maxAttempts: number;
  /** Cap of the first backoff (default 100 ms); each later cap doubles. */
  readonly initialBackoffMs?: number;
  /** Largest cap of a backoff (default 1 s). */
  readonly maxBackoffMs?: number;
}

const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 1_000;
/**
 * Least time left of the call's deadline worth another attempt: one with less
 * would mostly end DEADLINE_EXCEEDED, hiding the UNAVAILABLE that says why.
 */
const MIN_ATTEMPT_MS = 50;

/**
 * Wraps a transport so that calls to idempotent methods (`idempotency_level`
 * NO_SIDE_EFFECTS or IDEMPOTENT) that fail with UNAVAILABLE are sent again,
 * as gRPC's retry policy does (gRFC A6): at most `maxAttempts` in all, after a
 * backoff drawn at random below a cap that doubles each time ("full jitter"),
 * within the call's deadline (each attempt gets the time that is left), and a
 * server stream only while no message has arrived — after that the caller has
 * seen part of the result. Calls refused at once because the backend is known
 * down are not retried: the point of failing fast is not to wait. Other
 * methods are passed through untouched (a refused stream, never dispatched, is
 * still sent once more by the gRPC client itself).
 */
export function withRetries(inner: Transport, policy: RetryPolicy): Transport {
  if (policy.maxAttempts <= 1) return inner;
  const initial = policy.initialBackoffMs ?? INITIAL_BACKOFF_MS;
  const cap = policy.maxBackoffMs ?? MAX_BACKOFF_MS;

  /** The clock of one call: whether, and after how long, attempt `attempt + 1` may follow `err`. */
  function planner(signal: AbortSignal | undefined, timeoutMs: number | undefined, started: number) {
    const deadline = timeoutMs !== undefined && timeoutMs > 0;
    /** The time left of the call's deadline, for the next attempt. */
    const left = (): number | undefined => (deadline ? timeoutMs - (Date.now() - started) : timeoutMs);
    const delay = (err: unknown, attempt: number): number | undefined => {
      if (attempt >= policy.maxAttempts || signal?.aborted) return undefined;
      if (!(err instanceof ConnectError) || err.code !== Code.Unavailable || isBackendDown(err))
        return undefined;
      const wait = Math.random() * Math.min(cap, initial * 2 ** (attempt - 1));
      if (deadline && (left() ?? 0) - wait < MIN_ATTEMPT_MS) return undefined;
      return wait;
    };
    return { delay, left };
  }

  return wrapTransport(inner, {
    unary: (next) => (method, signal, timeoutMs, header, input, contextValues) => {
      const first = next(method, signal, timeoutMs, header, input, contextValues);
      if (!idempotent(method)) return first;
      // The hot path: nothing more is allocated for a call that succeeds than this catch.
      const started = Date.now();
      return first.catch(async (err0: unknown) => {
        const plan = planner(signal, timeoutMs, started);
        let err = err0;
        for (let attempt = 1; ; attempt++) {
          const wait = plan.delay(err, attempt);
          if (wait === undefined) throw attempted(err, attempt);
          await sleep(wait, signal);
          try {
            return await next(method, signal, plan.left(), header, input, contextValues);
          } catch (e) {
            err = e;
          }
        }
      });
    },

    stream: (next) =>
      async function retried<I extends DescMessage, O extends DescMessage>(
        method: DescMethodStreaming<I, O>,
        signal: AbortSignal | undefined,
        timeoutMs: number | undefined,
        header: CallHeader | undefined,
        input: AsyncIterable<MessageInitShape<I>>,
        contextValues?: ContextValues,
      ): Promise<StreamResponse<I, O>> {
        if (!idempotent(method) || method.methodKind !== "server_streaming") {
          return next(method, signal, timeoutMs, header, input, contextValues);
        }
        // A server stream has one request: kept to send it again.
        const given = firstRequest(input);
        const request = given instanceof Promise ? await given : given;
        if (request === undefined) return next(method, signal, timeoutMs, header, input, contextValues);
        const sent = request;
        const plan = planner(signal, timeoutMs, Date.now());
        let attempt = 1;
        const open = (ms: number | undefined) =>
          next(method, signal, ms, header, new SingleRequest(sent), contextValues);
        /** Opens the stream again after `err`, as often as the policy allows; throws when it does not. */
        const reopen = async (err0: unknown): Promise<StreamResponse<I, O>> => {
          let err = err0;
          for (;;) {
            const wait = plan.delay(err, attempt);
            if (wait === undefined) throw attempted(err, attempt);
            await sleep(wait, signal);
            attempt++;
            try {
              return await open(plan.left());
            } catch (e) {
              err = e;
            }
          }
        };
        let current = await open(timeoutMs).catch(reopen);
        async function* messages(): AsyncGenerator<MessageShape<O>> {
          for (;;) {
            let received = false;
            try {
              for await (const m of current.message) {
                received = true;
                yield m;
              }
              return;
            } catch (err) {
              if (received) throw err;
              current = await reopen(err);
            }
          }
        }
        const first = current;
        return {
          stream: true,
          service: first.service,
          method: first.method,
          get header() {
            return current.header;
          },
          get trailer() {
            return current.trailer;
          },
          message: messages(),
        };
      },
  });
}

/** Whether calling `method` twice does no harm (descriptor.proto `MethodOptions.idempotency_level`). */
function idempotent(method: DescMethod): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT
  );
}

/** The last error, saying how many attempts were made when there were several. */
function attempted(err: unknown, attempts: number): unknown {
  if (attempts < 2 || !(err instanceof ConnectError)) return err;
  const e = new ConnectError(
    `${err.rawMessage} (${attempts} attempts)`,
    err.code,
    err.metadata,
    undefined,
    err.cause,
  );
  e.details = err.details;
  return e;
}

/** Waits `ms`; rejects with CANCELLED if the call is cancelled meanwhile. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () => {
      clearTimeout(timer);
      reject(new ConnectError("the call was cancelled", Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", cancelled);
      resolve();
    }, ms);
    if (signal?.aborted) return cancelled();
    signal?.addEventListener("abort", cancelled, { once: true });
  });
}
