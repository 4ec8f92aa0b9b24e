import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type Http2Session,
  type IncomingHttpHeaders,
} from "node:http2";
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
import { trailerStatus } from "./grpc-status.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/**
 * Client-side deadlines. The backend enforces each call's deadline itself
 * (`grpc-timeout`); this is the safety net for one that does not, so one
 * coarse timer checks every in-flight call instead of a timer per call.
 */
const DEADLINE_TICK_MS = 50;
const deadlines = new Set<{ readonly at: number; readonly expire: () => void }>();
let deadlineTimer: NodeJS.Timeout | undefined;

function watchDeadline(at: number, expire: () => void): { readonly at: number; readonly expire: () => void } {
  const entry = { at, expire };
  deadlines.add(entry);
  if (!deadlineTimer) {
    deadlineTimer = setInterval(sweepDeadlines, DEADLINE_TICK_MS);
    deadlineTimer.unref();
  }
  return entry;
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

/**
 * Flow control and memory of each backend connection, chosen rather than
 * inherited. Node stops crediting a stream's window while its reader is
 * paused, so unread reply bytes per connection stay below the connection
 * window (16 MiB) and per call below the stream window (1 MiB; Node's 64 KiB
 * default costs a round trip every 64 KiB of a large reply).
 * `maxSessionMemory` (in MiB; Node's default is 10) is only Node's guard
 * against a peer that ignores flow control: past it Node refuses the
 * connection's new streams with ENHANCE_YOUR_CALM, which with a 10 MiB limit
 * one abandoned large reply was enough to trigger.
 */
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const SESSION_MEMORY_MIB = 256;

/** The error code of the GOAWAY each connection received, when it was not NO_ERROR. */
const goaways = new WeakMap<Http2Session, number>();

/** Options of the HTTP/2 gRPC client. */
export interface H2GrpcOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS), optionally with a path prefix. */
  readonly baseUrl: string;
  /** The backend's name in the config, used in error messages (default: the origin). */
  readonly name?: string;
  /** Most bytes of one reply message (default 64 MiB). */
  readonly maxMessageBytes?: number;
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
 * A lean gRPC client over one HTTP/2 connection per backend (the gRPC over
 * HTTP/2 wire protocol: length-prefixed messages, status in trailers). It
 * implements Connect's `Transport` so that everything above it is unchanged,
 * but keeps the per-call path to one HTTP/2 stream, one buffer and no web
 * streams: the gateway's hot path. Errors, including `google.rpc.Status`
 * details from `grpc-status-details-bin`, are `ConnectError`s as with Connect's
 * own transport. Compression is not negotiated (none is advertised).
 *
 * Nothing a backend sends can throw out of an HTTP/2 event listener: a reply
 * that is not a valid message of the method's output type, a broken frame or
 * a malformed status each end only their own call. A connection whose peer
 * refuses new streams is replaced, and the refused call is sent once more on
 * the new connection.
 */
export function createH2GrpcTransport(options: H2GrpcOptions): Transport {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const authority = new URL(baseUrl);
  const pathPrefix = authority.pathname.replace(/\/+$/, "");
  const label = options.name ? `backend "${options.name}"` : authority.origin;
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  let session: ClientHttp2Session | undefined;

  function ensureSession(): ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const s = connect(authority.origin, {
      maxSessionMemory: SESSION_MEMORY_MIB,
      settings: { initialWindowSize: STREAM_WINDOW },
    });
    s.on("error", () => {});
    s.once("connect", () => {
      try {
        s.setLocalWindowSize(CONNECTION_WINDOW);
      } catch {
        // The session closed in the meantime; the next call opens another.
      }
    });
    const drop = () => retire(s);
    s.on("close", drop);
    s.on("goaway", (code: number) => {
      // Kept to say why the calls on it fail: Node reports only "Session closed with error code 2".
      if (code !== constants.NGHTTP2_NO_ERROR) goaways.set(s, code);
      drop();
    });
    s.unref();
    session = s;
    return s;
  }

  /** Stops using a connection: calls in flight on it finish, new ones open another. */
  function retire(s: Http2Session): void {
    if (session === s) session = undefined;
    if (!s.closed && !s.destroyed) s.close();
  }

  /** Writes the request on a new HTTP/2 stream. */
  function request(path: string, headers: { [k: string]: string }, frame: Buffer): ClientHttp2Stream {
    let stream: ClientHttp2Stream;
    try {
      stream = ensureSession().request({ ...headers, [constants.HTTP2_HEADER_PATH]: path }, REQUEST_OPTIONS);
    } catch (err) {
      throw new ConnectError(`cannot reach ${label}: ${(err as Error).message}`, Code.Unavailable);
    }
    stream.end(frame);
    return stream;
  }

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
    const path = `${pathPrefix}/${method.parent.typeName}/${method.name}`;
    const headers: { [k: string]: string } = {
      [constants.HTTP2_HEADER_METHOD]: "POST",
      "content-type": "application/grpc+proto",
      te: "trailers",
    };
    if (timeoutMs !== undefined && timeoutMs > 0) headers["grpc-timeout"] = `${Math.ceil(timeoutMs)}m`;
    if (header) addHeaders(headers, header);
    const message = isMessage(input, method.input) ? input : create(method.input, input);
    const bytes = toBinary(method.input, message as MessageShape<I>);
    const frame = Buffer.allocUnsafe(5 + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, 5);

    let stream = request(path, headers, frame);
    let retried = false;
    let done = false;
    const finish = (err: ConnectError | undefined) => {
      if (done) return;
      done = true;
      if (deadline) deadlines.delete(deadline);
      signal?.removeEventListener("abort", onAbort);
      // A backend that enforces the deadline itself often answers CANCELLED; the caller, who did not
      // cancel, sees the deadline it set pass, as gRPC clients report it (doc/deadlines.md).
      if (err?.code === Code.Canceled && !signal?.aborted && deadline && Date.now() >= deadline.at) {
        err = timedOut();
      }
      sink.end(err);
    };
    const fail = (err: ConnectError) => {
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      finish(err);
    };
    const onAbort = () => fail(new ConnectError("the call was cancelled", Code.Canceled));
    const timedOut = () =>
      new ConnectError(
        `${label} did not complete the call within its deadline of ${timeoutMs} ms`,
        Code.DeadlineExceeded,
      );
    const deadline =
      timeoutMs !== undefined && timeoutMs > 0
        ? watchDeadline(Date.now() + timeoutMs, () => fail(timedOut()))
        : undefined;

    function listen(s: ClientHttp2Stream): void {
      // Chunks of an incomplete message, joined once `need` bytes are in: a large message arrives in
      // many 16 KiB DATA frames, and joining at each one would copy it over and over.
      let pending: Buffer[] = [];
      let size = 0;
      let need = 5;
      let responseHeaders: IncomingHttpHeaders | undefined;
      let trailers: IncomingHttpHeaders | undefined;
      const current = () => stream === s && !done;
      // The stream forgets its session once it is closed; a refusal must retire this one.
      const owner = s.session;

      s.on("response", (h) => {
        if (!current()) return;
        responseHeaders = h;
        const status = Number(h[constants.HTTP2_HEADER_STATUS]);
        if (status !== 200) {
          return fail(new ConnectError(`HTTP ${status} from ${label}`, httpStatusCode(status)));
        }
        // A response is gRPC only with a gRPC content-type (PROTOCOL-HTTP2 "Responses"), unless it
        // is Trailers-Only; an HTML page from a proxy must not be read as length-prefixed messages.
        const type = h["content-type"];
        if (h["grpc-status"] === undefined && !GRPC_CONTENT_TYPE.test(type ?? "")) {
          fail(
            new ConnectError(
              `${label} answered HTTP 200 with content-type ${type ? `"${type}"` : "missing"}, not a gRPC response`,
              httpStatusCode(status),
            ),
          );
        }
      });
      s.on("data", (chunk: Buffer) => {
        if (!current()) return;
        pending.push(chunk);
        size += chunk.length;
        if (size < need) return;
        let buf = pending.length === 1 ? chunk : Buffer.concat(pending, size);
        need = 5;
        while (buf.length >= 5) {
          const length = buf.readUInt32BE(1);
          if (buf[0] === 1) {
            return fail(
              new ConnectError(`${label} sent a compressed reply, which was not asked for`, Code.Internal),
            );
          }
          if (buf[0] !== 0) {
            // PROTOCOL-HTTP2 "Length-Prefixed-Message": the Compressed-Flag is 0 or 1.
            return fail(
              new ConnectError(
                `${label} sent a reply that is not gRPC framing (flag byte ${buf[0]}, not 0 or 1)`,
                Code.Internal,
              ),
            );
          }
          if (length > maxMessageBytes) {
            return fail(
              new ConnectError(
                `${label} sent a reply message of ${length} bytes (limit ${maxMessageBytes})`,
                Code.ResourceExhausted,
              ),
            );
          }
          if (buf.length < 5 + length) {
            need = 5 + length;
            break;
          }
          let value: MessageShape<O>;
          try {
            value = fromBinary(method.output, buf.subarray(5, 5 + length));
          } catch (err) {
            return fail(
              new ConnectError(
                `${label}'s reply is not a valid ${method.output.typeName}: ${(err as Error).message}`,
                Code.Internal,
              ),
            );
          }
          const refused = sink.message(value);
          if (refused) return fail(refused);
          if (done) return;
          buf = buf.subarray(5 + length);
        }
        pending = buf.length > 0 ? [buf] : [];
        size = buf.length;
      });
      s.on("trailers", (t) => {
        trailers = t;
      });
      s.on("error", (err) => {
        if (!current()) return;
        const code = s.rstCode;
        if (code === constants.NGHTTP2_REFUSED_STREAM || code === constants.NGHTTP2_ENHANCE_YOUR_CALM) {
          // The peer refuses new streams on this connection (RFC 9113 §8.7 for REFUSED_STREAM; Node
          // servers answer ENHANCE_YOUR_CALM once their session memory is spent). Either way the
          // stream was refused before the request was dispatched, so one more try on a new
          // connection is safe; our own memory limit is set far above what flow control lets in.
          if (owner) retire(owner);
          if (!responseHeaders && !retried) {
            retried = true;
            try {
              stream = request(path, headers, frame);
            } catch (e) {
              return finish(ConnectError.from(e));
            }
            return listen(stream);
          }
        }
        if ((err as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR") {
          return fail(resetError(label, code));
        }
        // The connection failed under the call: UNAVAILABLE, as gRPC reports a transport failure.
        const away = owner ? goaways.get(owner) : undefined;
        const why = away === undefined ? err.message : `the backend sent GOAWAY ${h2ErrorName(away)}`;
        fail(new ConnectError(`the connection to ${label} failed: ${why}`, Code.Unavailable));
      });
      s.on("close", () => {
        if (!current()) return;
        // Trailers-only responses carry the status in the headers.
        const status =
          trailers ?? (responseHeaders?.["grpc-status"] !== undefined ? responseHeaders : undefined);
        if (!status) {
          if (!owner || owner.destroyed) {
            return finish(
              new ConnectError(`the connection to ${label} closed before the call ended`, Code.Unavailable),
            );
          }
          // The backend ended the stream (END_STREAM, or a reset Node reports without an error event:
          // NO_ERROR, CANCEL) without the trailers that carry the status.
          return finish(
            s.rstCode === constants.NGHTTP2_NO_ERROR
              ? new ConnectError(`${label} ended the call without trailers (no grpc-status)`, Code.Internal)
              : resetError(label, s.rstCode),
          );
        }
        const error = trailerStatus(status, label);
        if (!error && size > 0) {
          return finish(new ConnectError(`${label} sent a truncated reply message`, Code.Internal));
        }
        finish(error);
      });
    }

    if (signal?.aborted) onAbort();
    else {
      signal?.addEventListener("abort", onAbort, { once: true });
      listen(stream);
    }
    return {
      pause: () => stream.pause(),
      resume: () => {
        if (stream.isPaused()) stream.resume();
      },
      cancel: () => {
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      },
    };
  }

  return {
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
      let first: MessageInitShape<I> | undefined;
      for await (const m of input) {
        first = m;
        break;
      }
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

/** `application/grpc`, optionally `+proto` or another subtype, and parameters (PROTOCOL-HTTP2 "Content-Type"). */
const GRPC_CONTENT_TYPE = /^application\/grpc(?:[+;\s]|$)/i;

/**
 * The error of a stream the backend reset (RST_STREAM) before its status, as
 * gRPC maps HTTP/2 error codes (PROTOCOL-HTTP2 "Errors"): REFUSED_STREAM is
 * UNAVAILABLE (nothing was processed), CANCEL CANCELLED, ENHANCE_YOUR_CALM
 * RESOURCE_EXHAUSTED, INADEQUATE_SECURITY PERMISSION_DENIED, any other INTERNAL.
 */
function resetError(label: string, rstCode: number | undefined): ConnectError {
  const name = h2ErrorName(rstCode);
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return new ConnectError(`${label} refused the call (RST_STREAM ${name})`, Code.Unavailable);
    case constants.NGHTTP2_CANCEL:
      return new ConnectError(`${label} cancelled the call (RST_STREAM ${name})`, Code.Canceled);
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(
        `${label} reset the call (RST_STREAM ${name}): it considers the gateway is using excessive resources`,
        Code.ResourceExhausted,
      );
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return new ConnectError(
        `${label} reset the call (RST_STREAM ${name}): the connection is not secure enough`,
        Code.PermissionDenied,
      );
    default:
      return new ConnectError(`${label} reset the call (RST_STREAM ${name})`, Code.Internal);
  }
}

/** The name of an HTTP/2 error code (RFC 9113 §7), e.g. `INTERNAL_ERROR`. */
function h2ErrorName(code: number | undefined): string {
  return H2_ERRORS[code ?? -1] ?? `error code ${code}`;
}

const H2_ERRORS: { readonly [code: number]: string } = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
];

/** gRPC's mapping of HTTP statuses seen instead of a gRPC response (doc/http-grpc-status-mapping.md). */
function httpStatusCode(status: number): Code {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

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
