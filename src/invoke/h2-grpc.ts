import { type ClientHttp2Stream, constants, type IncomingHttpHeaders } from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodStreaming,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { TlsConnectOptions } from "./backend-tls.js";
import { trailerStatus } from "./grpc-status.js";
import { type ConnectionPool, type ConnectionPoolOptions, createConnectionPool } from "./h2-connections.js";
import { httpStatusCode, resetError } from "./h2-errors.js";
import type { StaticHeaders } from "./static-headers.js";
import { firstRequest } from "./wrap-transport.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/**
 * Client-side deadlines. The backend enforces each call's deadline itself
 * (`grpc-timeout`); this is the safety net for one that does not, so one
 * coarse timer checks every in-flight call instead of a timer per call.
 */
const DEADLINE_TICK_MS = 50;
const deadlines = new Set<{ readonly at: number; expire(): void }>();
let deadlineTimer: NodeJS.Timeout | undefined;

function watchDeadline(entry: { readonly at: number; expire(): void }): void {
  deadlines.add(entry);
  if (!deadlineTimer) {
    deadlineTimer = setInterval(sweepDeadlines, DEADLINE_TICK_MS);
    deadlineTimer.unref();
  }
}

function sweepDeadlines(): void {
  const now = Date.now();
  for (const entry of deadlines) {
    if (entry.at > now) continue;
    deadlines.delete(entry);
    entry.expire();
  }
  if (deadlines.size === 0 && deadlineTimer) {
    clearInterval(deadlineTimer);
    deadlineTimer = undefined;
  }
}

/**
 * Options of every request: the priority fields are Node's own defaults, given
 * so that `request()` need not add them to its copy of this object, which
 * costs about 4 µs per call on Node 20 (measured; a third of `request()`).
 */
const REQUEST_OPTIONS = { endStream: false, weight: 16, parent: 0, exclusive: false, silent: false };

/** Default for the most bytes of one reply message; larger ones fail the call (RESOURCE_EXHAUSTED). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Messages a streaming reader may lag behind before the HTTP/2 stream is paused. */
const HIGH_WATER = 64;

/** Options of the HTTP/2 gRPC client. */
export interface H2GrpcOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS), optionally with a path prefix. */
  readonly baseUrl: string;
  /** The backend's name in the config, used in error messages (default: the origin). */
  readonly name?: string;
  /** Most bytes of one reply message (default 64 MiB). */
  readonly maxMessageBytes?: number;
  /** TLS settings of an `https://` backend: CA, client certificate, server name (default: the system's CAs). */
  readonly tls?: TlsConnectOptions | undefined;
  /** Metadata sent with every call; the caller's metadata of the same name wins. */
  readonly headers?: StaticHeaders | undefined;
  /** Interval of HTTP/2 keep-alive PINGs (default 0: none). */
  readonly keepaliveMs?: number | undefined;
  /** Connections and their timings (defaults in {@link createConnectionPool}); tests shorten them. */
  readonly connections?: Pick<ConnectionPoolOptions, "maxConnections" | "connectTimeoutMs" | "downMs">;
}

/** The gateway's gRPC client: a Connect `Transport` whose connections `close()` ends. */
export interface H2GrpcTransport extends Transport {
  /** Destroys the backend's connections: calls in flight fail with UNAVAILABLE, and so do later ones. */
  close(): void;
}

/** What a call does with the reply messages and the end of the call. */
interface CallSink<T> {
  /** Takes one message; an error returned ends the call with it. */
  message(value: T): ConnectError | undefined;
  end(err: ConnectError | undefined): void;
}

/** The running call's HTTP/2 stream, for back-pressure and cancellation. */
interface CallControl {
  pause(): void;
  resume(): void;
  cancel(): void;
}

/**
 * A lean gRPC client over HTTP/2 connections to one backend (the gRPC over
 * HTTP/2 wire protocol: length-prefixed messages, status in trailers; the
 * connections are {@link createConnectionPool}'s). It
 * implements Connect's `Transport` so that everything above it is unchanged,
 * but keeps the per-call path to one HTTP/2 stream, one buffer and no web
 * streams: the gateway's hot path. Errors, including `google.rpc.Status`
 * details from `grpc-status-details-bin`, are `ConnectError`s as with Connect's
 * own transport. Compression is not negotiated (none is advertised).
 *
 * Nothing a backend sends can throw out of an HTTP/2 event listener: a reply
 * that is not a valid message of the method's output type, a broken frame or
 * a malformed status each end only their own call. A stream the peer refuses
 * is sent once more, on a new connection unless the peer's stream limit
 * explains the refusal.
 *
 * `headers` go with every call under the caller's metadata: a name the caller
 * sends (identity, request ids) keeps the caller's value.
 */
export function createH2GrpcTransport(options: H2GrpcOptions): H2GrpcTransport {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const authority = new URL(baseUrl);
  const pathPrefix = authority.pathname.replace(/\/+$/, "");
  const label = options.name ? `backend "${options.name}"` : authority.origin;
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const pool = createConnectionPool({
    ...options.connections,
    origin: authority.origin,
    label,
    tls: options.tls,
    keepaliveMs: options.keepaliveMs,
  });
  /** The request headers every call starts from, when the backend has static metadata. */
  const fixedHeaders =
    options.headers && Object.keys(options.headers).length > 0
      ? { ...options.headers, ...protocolHeaders() }
      : undefined;

  const backend: Backend = { pool, label, maxMessageBytes };

  /**
   * Runs one call: sends the request, splits the body into messages as it
   * arrives, decodes each as `output`, and ends with the status. Throws only
   * if no stream could be opened.
   */
  function run<I extends DescMessage, O extends DescMessage>(
    method: { parent: { typeName: string }; name: string; input: I; output: O },
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    sink: CallSink<MessageShape<O>>,
  ): CallControl {
    const headers: { [k: string]: string } = fixedHeaders ? { ...fixedHeaders } : protocolHeaders();
    headers[constants.HTTP2_HEADER_PATH] = `${pathPrefix}/${method.parent.typeName}/${method.name}`;
    if (timeoutMs !== undefined && timeoutMs > 0) headers["grpc-timeout"] = `${Math.ceil(timeoutMs)}m`;
    if (header) addHeaders(headers, header);
    const message = isMessage(input, method.input) ? input : create(method.input, input);
    const bytes = toBinary(method.input, message as MessageShape<I>);
    const frame = Buffer.allocUnsafe(5 + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, 5);
    return new GrpcCall(backend, method.output, signal, timeoutMs, headers, frame, sink);
  }

  return {
    close: () => pool.close(),

    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      return new Promise((resolve, reject) => {
        let reply: MessageShape<O> | undefined;
        let count = 0;
        try {
          run(method, signal, timeoutMs, header, input, {
            message(value) {
              // A second message already breaks the call; reading on would let an endless reply run
              // until the deadline. Response cardinality violation: UNIMPLEMENTED (gRPC statuscodes.md).
              if (++count > 1) {
                return new ConnectError(
                  `${label} sent more than one reply message to a unary call`,
                  Code.Unimplemented,
                );
              }
              reply = value;
              return undefined;
            },
            end(err) {
              if (err) return reject(err);
              if (count !== 1 || !reply) {
                return reject(
                  new ConnectError(
                    `${label} sent ${count} reply messages to a unary call`,
                    Code.Unimplemented,
                  ),
                );
              }
              resolve(new LazyResponse(false, method.parent, method, reply));
            },
          });
        } catch (err) {
          reject(err);
        }
      });
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
    ): Promise<StreamResponse<I, O>> {
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError("only server-streaming calls are supported", Code.Unimplemented);
      }
      const request = firstRequest(input);
      const first = request instanceof Promise ? await request : request;
      if (first === undefined)
        throw new ConnectError("a server-streaming call needs a request", Code.Internal);
      const queue: MessageShape<O>[] = [];
      let ended = false;
      let paused = false;
      let error: ConnectError | undefined;
      let wake: (() => void) | undefined;
      const control = run(method, signal, timeoutMs, header, first, {
        message(value) {
          queue.push(value);
          if (queue.length >= HIGH_WATER && !paused) {
            paused = true;
            control.pause();
          }
          wake?.();
          return undefined;
        },
        end(err) {
          ended = true;
          error = err;
          wake?.();
        },
      });
      async function* messages(): AsyncGenerator<MessageShape<O>> {
        try {
          for (;;) {
            const next = queue.shift();
            if (next !== undefined) {
              if (paused && queue.length < HIGH_WATER / 2) {
                paused = false;
                control.resume();
              }
              yield next;
              continue;
            }
            if (ended) {
              if (error) throw error;
              return;
            }
            await new Promise<void>((r) => {
              wake = r;
            });
            wake = undefined;
          }
        } finally {
          control.cancel();
        }
      }
      return new LazyResponse(true, method.parent, method, messages());
    },
  };
}

/** What every call to one backend shares. */
interface Backend {
  readonly pool: ConnectionPool;
  readonly label: string;
  readonly maxMessageBytes: number;
}

/** The call a stream carries, for the stream listeners below. */
const CALL = Symbol("call");
type CallStream = ClientHttp2Stream & { [CALL]?: GrpcCall<DescMessage> };

/**
 * One call on an HTTP/2 stream (sent once more on a new stream if the first
 * is refused). A class, and listeners shared by every stream that find their
 * call on the stream, so that a call allocates a handful of objects rather
 * than a closure per event (the gateway's hot path; `bench/quick.ts ab`). It
 * is its own abort listener (`handleEvent`) and deadline entry.
 */
class GrpcCall<O extends DescMessage> implements CallControl {
  stream: CallStream;
  private retried = false;
  private done = false;
  /** Chunks of an incomplete message, joined once `need` bytes are in (a large message arrives in many 16 KiB DATA frames, and joining at each one would copy it over and over). */
  private pending: Buffer[] = [];
  private size = 0;
  private need = 5;
  private responseHeaders: IncomingHttpHeaders | undefined;
  private trailers: IncomingHttpHeaders | undefined;
  /** The connection of the current stream. */
  private owner: ClientHttp2Stream["session"] = undefined;
  /** The deadline's time, when the call has one (the entry {@link watchDeadline} sweeps). */
  readonly at: number;

  constructor(
    private readonly backend: Backend,
    private readonly output: O,
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number | undefined,
    private readonly headers: { [k: string]: string },
    private readonly frame: Buffer,
    private readonly sink: CallSink<MessageShape<O>>,
  ) {
    this.stream = this.open();
    this.at = timeoutMs !== undefined && timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    if (this.at > 0) watchDeadline(this);
    if (signal?.aborted) this.handleEvent();
    else {
      signal?.addEventListener("abort", this, { once: true });
      this.listen(this.stream);
    }
  }

  /** Writes the request on a new HTTP/2 stream; throws (UNAVAILABLE) if none can be opened. */
  private open(): CallStream {
    const stream: CallStream = this.backend.pool.request(this.headers, REQUEST_OPTIONS);
    stream.end(this.frame);
    return stream;
  }

  private listen(s: CallStream): void {
    // The stream forgets its session once it is closed; a refusal must retire this one.
    this.owner = s.session;
    s[CALL] = this as unknown as GrpcCall<DescMessage>;
    s.on("response", onResponse);
    s.on("data", onData);
    s.on("trailers", onTrailers);
    s.on("error", onError);
    s.on("close", onClose);
  }

  /** Whether events of `s` still matter: it is the call's stream and the call is not over. */
  current(s: CallStream): boolean {
    return this.stream === s && !this.done;
  }

  /** The signal aborted: the caller cancelled. */
  handleEvent(): void {
    this.fail(new ConnectError("the call was cancelled", Code.Canceled));
  }

  /** The deadline passed without an answer. */
  expire(): void {
    this.fail(this.timedOut());
  }

  private timedOut(): ConnectError {
    return new ConnectError(
      `${this.backend.label} did not complete the call within its deadline of ${this.timeoutMs} ms`,
      Code.DeadlineExceeded,
    );
  }

  finish(err: ConnectError | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.at > 0) deadlines.delete(this);
    this.signal?.removeEventListener("abort", this);
    // A backend that enforces the deadline itself often answers CANCELLED; the caller, who did not
    // cancel, sees the deadline it set pass, as gRPC clients report it (doc/deadlines.md).
    if (err?.code === Code.Canceled && !this.signal?.aborted && this.at > 0 && Date.now() >= this.at) {
      err = this.timedOut();
    }
    this.sink.end(err);
  }

  fail(err: ConnectError): void {
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
    this.finish(err);
  }

  onResponse(h: IncomingHttpHeaders): void {
    const label = this.backend.label;
    this.responseHeaders = h;
    const status = Number(h[constants.HTTP2_HEADER_STATUS]);
    if (status !== 200) {
      this.fail(new ConnectError(`HTTP ${status} from ${label}`, httpStatusCode(status)));
      return;
    }
    // A response is gRPC only with a gRPC content-type (PROTOCOL-HTTP2 "Responses"), unless it
    // is Trailers-Only; an HTML page from a proxy must not be read as length-prefixed messages.
    const type = h["content-type"];
    if (h["grpc-status"] === undefined && !GRPC_CONTENT_TYPE.test(type ?? "")) {
      this.fail(
        new ConnectError(
          `${label} answered HTTP 200 with content-type ${type ? `"${type}"` : "missing"}, not a gRPC response`,
          httpStatusCode(status),
        ),
      );
    }
  }

  onData(chunk: Buffer): void {
    const { label, maxMessageBytes } = this.backend;
    this.pending.push(chunk);
    this.size += chunk.length;
    if (this.size < this.need) return;
    let buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.size);
    this.need = 5;
    while (buf.length >= 5) {
      const length = buf.readUInt32BE(1);
      if (buf[0] === 1) {
        this.fail(
          new ConnectError(`${label} sent a compressed reply, which was not asked for`, Code.Internal),
        );
        return;
      }
      if (buf[0] !== 0) {
        // PROTOCOL-HTTP2 "Length-Prefixed-Message": the Compressed-Flag is 0 or 1.
        this.fail(
          new ConnectError(
            `${label} sent a reply that is not gRPC framing (flag byte ${buf[0]}, not 0 or 1)`,
            Code.Internal,
          ),
        );
        return;
      }
      if (length > maxMessageBytes) {
        this.fail(
          new ConnectError(
            `${label} sent a reply message of ${length} bytes (limit ${maxMessageBytes})`,
            Code.ResourceExhausted,
          ),
        );
        return;
      }
      if (buf.length < 5 + length) {
        this.need = 5 + length;
        break;
      }
      let value: MessageShape<O>;
      try {
        value = fromBinary(this.output, buf.subarray(5, 5 + length));
      } catch (err) {
        this.fail(
          new ConnectError(
            `${label}'s reply is not a valid ${this.output.typeName}: ${(err as Error).message}`,
            Code.Internal,
          ),
        );
        return;
      }
      const refused = this.sink.message(value);
      if (refused) {
        this.fail(refused);
        return;
      }
      if (this.done) return;
      buf = buf.subarray(5 + length);
    }
    if (buf.length > 0) this.pending = [buf];
    else if (this.pending.length > 0) this.pending = [];
    this.size = buf.length;
  }

  onTrailers(t: IncomingHttpHeaders): void {
    this.trailers = t;
  }

  onError(s: CallStream, err: Error): void {
    const { pool, label } = this.backend;
    const code = s.rstCode;
    const owner = this.owner;
    if (code === constants.NGHTTP2_REFUSED_STREAM || code === constants.NGHTTP2_ENHANCE_YOUR_CALM) {
      // The peer refuses new streams on this connection (RFC 9113 §8.7 for REFUSED_STREAM; Node
      // servers answer ENHANCE_YOUR_CALM once their session memory is spent). Either way the
      // stream was refused before the request was dispatched, so one more try on a new
      // connection is safe; our own memory limit is set far above what flow control lets in.
      if (owner) pool.refused(owner, code);
      if (!this.responseHeaders && !this.retried) {
        this.retried = true;
        try {
          this.stream = this.open();
        } catch (e) {
          this.finish(ConnectError.from(e));
          return;
        }
        this.listen(this.stream);
        return;
      }
    }
    if ((err as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR") {
      this.fail(resetError(label, code));
      return;
    }
    // The connection failed under the call: UNAVAILABLE, as gRPC reports a transport failure.
    this.fail(pool.failure(owner, err));
  }

  onClose(s: CallStream): void {
    const { pool, label } = this.backend;
    // Trailers-only responses carry the status in the headers.
    const status =
      this.trailers ??
      (this.responseHeaders?.["grpc-status"] !== undefined ? this.responseHeaders : undefined);
    if (!status) {
      const owner = this.owner;
      if (!owner || owner.destroyed) {
        this.finish(pool.failure(owner));
        return;
      }
      // The backend ended the stream (END_STREAM, or a reset Node reports without an error event:
      // NO_ERROR, CANCEL) without the trailers that carry the status.
      this.finish(
        s.rstCode === constants.NGHTTP2_NO_ERROR
          ? new ConnectError(`${label} ended the call without trailers (no grpc-status)`, Code.Internal)
          : resetError(label, s.rstCode),
      );
      return;
    }
    const error = trailerStatus(status, label);
    if (!error && this.size > 0) {
      this.finish(new ConnectError(`${label} sent a truncated reply message`, Code.Internal));
      return;
    }
    this.finish(error);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    if (this.stream.isPaused()) this.stream.resume();
  }

  cancel(): void {
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
  }
}

// The stream listeners, shared by every call: `this` is the stream, which carries its call.
function onResponse(this: CallStream, h: IncomingHttpHeaders): void {
  const call = this[CALL];
  if (call?.current(this)) call.onResponse(h);
}
function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  if (call?.current(this)) call.onData(chunk);
}
function onTrailers(this: CallStream, t: IncomingHttpHeaders): void {
  const call = this[CALL];
  if (call?.stream === this) call.onTrailers(t);
}
function onError(this: CallStream, err: Error): void {
  const call = this[CALL];
  if (call?.current(this)) call.onError(this, err);
}
function onClose(this: CallStream): void {
  const call = this[CALL];
  if (call?.current(this)) call.onClose(this);
}

/** Adds caller metadata; HTTP/2 forbids connection-specific and pseudo headers from callers. */
function addHeaders(target: { [k: string]: string }, init: NonNullable<HeadersInit>): void {
  const plain = !(init instanceof Headers) && !Array.isArray(init);
  const entries = plain ? Object.entries(init as { [k: string]: string }) : new Headers(init).entries();
  for (const [k, v] of entries) {
    const key = k.toLowerCase();
    if (key.startsWith(":") || key === "connection" || key === "host") continue;
    target[key] = v;
  }
}

/** The headers of every gRPC request (PROTOCOL-HTTP2 "Requests"), as a new object. */
function protocolHeaders(): { [k: string]: string } {
  return {
    [constants.HTTP2_HEADER_METHOD]: "POST",
    "content-type": "application/grpc+proto",
    te: "trailers",
  };
}

/** `application/grpc`, optionally `+proto` or another subtype, and parameters (PROTOCOL-HTTP2 "Content-Type"). */
const GRPC_CONTENT_TYPE = /^application\/grpc(?:[+;\s]|$)/i;

/**
 * A response whose header and trailer are built only if someone reads them
 * (the gateway does not); a class, so that each call allocates one plain object.
 */
class LazyResponse<S extends boolean, M, T> {
  constructor(
    readonly stream: S,
    readonly service: DescService,
    readonly method: M,
    readonly message: T,
  ) {}
  get header(): Headers {
    return new Headers();
  }
  get trailer(): Headers {
    return new Headers();
  }
}
