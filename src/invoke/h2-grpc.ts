import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
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
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";

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

/** Most bytes of one reply message; larger ones fail the call (RESOURCE_EXHAUSTED). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Messages a streaming reader may lag behind before the HTTP/2 stream is paused. */
const HIGH_WATER = 64;

/**
 * A lean gRPC client over one HTTP/2 connection per backend (the gRPC over
 * HTTP/2 wire protocol: length-prefixed messages, status in trailers). It
 * implements Connect's `Transport` so that everything above it is unchanged,
 * but keeps the per-call path to one HTTP/2 stream, one buffer and no web
 * streams: the gateway's hot path. Errors, including `google.rpc.Status`
 * details from `grpc-status-details-bin`, are `ConnectError`s as with Connect's
 * own transport. Compression is not negotiated (none is advertised).
 */
export function createH2GrpcTransport(options: { readonly baseUrl: string }): Transport {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const authority = new URL(baseUrl);
  const pathPrefix = authority.pathname.replace(/\/+$/, "");
  let session: ClientHttp2Session | undefined;

  function ensureSession(): ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const s = connect(authority.origin);
    s.on("error", () => {});
    const drop = () => {
      if (session === s) session = undefined;
    };
    s.on("close", drop);
    s.on("goaway", drop);
    s.unref();
    session = s;
    return s;
  }

  /** Starts a call: writes the request, returns the HTTP/2 stream. */
  function start<I extends DescMessage>(
    method: { parent: { typeName: string }; name: string; input: I },
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
  ): ClientHttp2Stream {
    const headers: { [k: string]: string } = {
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: `${pathPrefix}/${method.parent.typeName}/${method.name}`,
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
    let stream: ClientHttp2Stream;
    try {
      stream = ensureSession().request(headers, REQUEST_OPTIONS);
    } catch (err) {
      throw new ConnectError(`cannot reach ${authority.origin}: ${(err as Error).message}`, Code.Unavailable);
    }
    stream.end(frame);
    return stream;
  }

  /** Splits the body into messages as it arrives. */
  function reader(
    stream: ClientHttp2Stream,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    onMessage: (bytes: Uint8Array) => void,
    onEnd: (err: ConnectError | undefined) => void,
  ): void {
    // Chunks of an incomplete message, joined once `need` bytes are in: a large message arrives in
    // many 16 KiB DATA frames, and joining at each one would copy it over and over.
    let pending: Buffer[] = [];
    let size = 0;
    let need = 5;
    let responseHeaders: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    let failure: ConnectError | undefined;
    let done = false;
    const finish = (err: ConnectError | undefined) => {
      if (done) return;
      done = true;
      if (deadline) deadlines.delete(deadline);
      signal?.removeEventListener("abort", onAbort);
      onEnd(err);
    };
    const fail = (err: ConnectError) => {
      failure ??= err;
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      finish(failure);
    };
    const onAbort = () => fail(new ConnectError("the call was cancelled", Code.Canceled));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    const deadline =
      timeoutMs !== undefined && timeoutMs > 0
        ? watchDeadline(Date.now() + timeoutMs, () =>
            fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
          )
        : undefined;

    stream.on("response", (h) => {
      responseHeaders = h;
      const status = Number(h[constants.HTTP2_HEADER_STATUS]);
      if (status !== 200) {
        fail(new ConnectError(`HTTP ${status} from the backend`, httpStatusCode(Number(status))));
      }
    });
    stream.on("data", (chunk: Buffer) => {
      pending.push(chunk);
      size += chunk.length;
      if (size < need) return;
      let buf = pending.length === 1 ? chunk : Buffer.concat(pending, size);
      need = 5;
      while (buf.length >= 5) {
        const length = buf.readUInt32BE(1);
        if (buf[0] !== 0)
          return fail(new ConnectError("compressed reply messages are not supported", Code.Internal));
        if (length > MAX_MESSAGE_BYTES) {
          return fail(
            new ConnectError(`reply message of ${length} bytes is too large`, Code.ResourceExhausted),
          );
        }
        if (buf.length < 5 + length) {
          need = 5 + length;
          break;
        }
        onMessage(buf.subarray(5, 5 + length));
        buf = buf.subarray(5 + length);
      }
      pending = buf.length > 0 ? [buf] : [];
      size = buf.length;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("error", (err) => fail(new ConnectError(err.message, Code.Unavailable)));
    stream.on("close", () => {
      if (done) return;
      // Trailers-only responses carry the status in the headers.
      const status =
        trailers ?? (responseHeaders?.["grpc-status"] !== undefined ? responseHeaders : undefined);
      if (!status)
        return finish(new ConnectError("the backend closed the call without a status", Code.Unavailable));
      if (status["grpc-status"] === "0") {
        if (size > 0) return finish(new ConnectError("truncated reply message", Code.Internal));
        return finish(undefined);
      }
      finish(findTrailerError(toHeaders(status)) ?? new ConnectError("unknown backend error", Code.Unknown));
    });
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
        let stream: ClientHttp2Stream;
        try {
          stream = start(method, timeoutMs, header, input);
        } catch (err) {
          reject(err);
          return;
        }
        let reply: MessageShape<O> | undefined;
        let count = 0;
        reader(
          stream,
          signal,
          timeoutMs,
          (bytes) => {
            count++;
            if (count === 1) reply = fromBinary(method.output, bytes);
          },
          (err) => {
            if (err) return reject(err);
            if (count !== 1 || !reply) {
              return reject(new ConnectError(`expected one reply message, got ${count}`, Code.Unimplemented));
            }
            resolve(new LazyResponse(false, method.parent, method, reply));
          },
        );
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
      const stream = start(method, timeoutMs, header, first);
      const queue: MessageShape<O>[] = [];
      let ended = false;
      let error: ConnectError | undefined;
      let wake: (() => void) | undefined;
      reader(
        stream,
        signal,
        timeoutMs,
        (bytes) => {
          queue.push(fromBinary(method.output, bytes));
          if (queue.length >= HIGH_WATER) stream.pause();
          wake?.();
        },
        (err) => {
          ended = true;
          error = err;
          wake?.();
        },
      );
      async function* messages(): AsyncGenerator<MessageShape<O>> {
        try {
          for (;;) {
            const next = queue.shift();
            if (next !== undefined) {
              if (queue.length < HIGH_WATER / 2 && stream.isPaused()) stream.resume();
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
          if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
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

function toHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    out.set(k, Array.isArray(v) ? v.join(", ") : String(v));
  }
  return out;
}

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
