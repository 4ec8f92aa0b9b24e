import {
  constants,
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  GetHTTPItemRequestSchema,
  GetHTTPItemResponseSchema,
  TailItemRequestSchema,
  TailItemResponseSchema,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";

/**
 * The faults of the chaos backend. A request whose `sku` is one of these names
 * gets that fault; any other sku a correct reply. "A message" below is the
 * method's correct reply (GetHTTPItem: one item; TailItem: `count` items).
 * Each fault must end the call with an error at a client that follows the gRPC
 * protocol and has a deadline.
 *
 * - `garbage-frame`: a body that is not gRPC framing (flag byte 7, then noise), status 0.
 * - `bad-protobuf`: correct framing around bytes that are not protobuf, status 0.
 * - `wrong-content-type`: `200` with `text/html` and an HTML page, no gRPC headers.
 * - `http-status`: `503` with `text/plain`, no gRPC headers (a proxy in front failing).
 * - `rst`: headers, half a message, then RST_STREAM `INTERNAL_ERROR`.
 * - `cancel`: headers, half a message, then RST_STREAM `CANCEL`.
 * - `refuse`: RST_STREAM `REFUSED_STREAM` before any headers (RFC 9113 §8.7), every time.
 * - `goaway`: headers, half a message, GOAWAY `NO_ERROR` naming every stream seen so far as
 *   processed (RFC 9113 §6.8), then the TCP connection is destroyed without finishing them (a
 *   server that exits without waiting for its calls).
 * - `goaway-error`: the same with GOAWAY `INTERNAL_ERROR` (the client drops the connection at once).
 * - `missing-status`: a message and trailers without `grpc-status`.
 * - `no-trailers`: a message, then the end of the stream without trailers.
 * - `huge-message`: one valid message of {@link HUGE_MESSAGE_BYTES}, status 0.
 * - `length-bomb`: a length prefix of 2^31-1 bytes, three bytes, status 0.
 * - `hang`: reads the request and never answers.
 * - `hang-after-headers`: response headers, then nothing.
 * - `endless-stream`: messages without end until the client cancels.
 * - `slow-headers`: a correct reply whose headers come 250 ms after the call's `grpc-timeout`.
 * - `destroy-socket`: headers, half a message, then the TCP connection is destroyed (no GOAWAY).
 */
export const CHAOS_MODES = [
  "garbage-frame",
  "bad-protobuf",
  "wrong-content-type",
  "http-status",
  "rst",
  "cancel",
  "refuse",
  "goaway",
  "goaway-error",
  "missing-status",
  "no-trailers",
  "huge-message",
  "length-bomb",
  "hang",
  "hang-after-headers",
  "endless-stream",
  "slow-headers",
  "destroy-socket",
] as const;

export type ChaosMode = (typeof CHAOS_MODES)[number];

/** A running chaos backend. */
export interface ChaosBackend {
  /** `http://127.0.0.1:<port>` (h2c). */
  readonly url: string;
  readonly port: number;
  /** HTTP/2 streams currently open on the server side (to check nothing leaks). */
  openStreams(): number;
  /** HTTP/2 sessions (connections) currently open. */
  openSessions(): number;
  /** Destroys every session; resolves when the server is closed. */
  close(): Promise<void>;
}

/** Size of the `huge-message` reply: past the gateway's default max_result_bytes (16 MiB). */
export const HUGE_MESSAGE_BYTES = 17 * 1024 * 1024;

const SERVICE = "mcpengine.testing.v1.InventoryService";
/** Longest request body read (a real request is a few bytes). */
const MAX_REQUEST_BYTES = 64 * 1024;
/** Safety net: a stream still open after this long (a client that never cancels) is reset. */
const GIVE_UP_MS = 20_000;
/** `slow-headers` answers this long after the call's deadline (or after 1 s without one). */
const LATE_MS = 250;
/** Most messages `endless-stream` writes per turn of the event loop. */
const BATCH = 64;

type Method = "unary" | "stream";
const MODES = new Set<string>(CHAOS_MODES);

/**
 * Starts a raw `node:http2` h2c server on 127.0.0.1 that speaks the gRPC
 * wire protocol by hand for `mcpengine.testing.v1.InventoryService`
 * (`GetHTTPItem`, `TailItem`), and misbehaves on request (see
 * {@link CHAOS_MODES}). Nothing a client does can make it throw: every stream
 * and session error is caught, every write checks that its stream is still
 * open, and each stream's timers are cleared when it closes.
 */
export async function startChaosBackend(): Promise<ChaosBackend> {
  const server = createServer();
  const sessions = new Set<ServerHttp2Session>();
  const streams = new Set<ServerHttp2Stream>();
  /** Raw sockets by remote port, for `destroy-socket` (a session's own socket cannot be destroyed). */
  const sockets = new Map<number, Socket>();
  /** The highest stream id each session has seen, and the sessions that have sent GOAWAY. */
  const lastStream = new WeakMap<Http2Session, number>();
  const goneAway = new WeakSet<Http2Session>();

  server.on("connection", (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(port));
  });
  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.on("frameError", () => {});
    session.once("close", () => sessions.delete(session));
  });
  server.on("sessionError", () => {});
  server.on("error", () => {});
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    streams.add(stream);
    const session = stream.session;
    if (session) lastStream.set(session, Math.max(lastStream.get(session) ?? 0, stream.id ?? 0));
    const timers = new Set<NodeJS.Timeout>();
    const immediates = new Set<NodeJS.Immediate>();
    stream.on("error", () => {});
    stream.once("close", () => {
      streams.delete(stream);
      for (const t of timers) clearTimeout(t);
      for (const i of immediates) clearImmediate(i);
      timers.clear();
      immediates.clear();
    });
    const call: Call = {
      stream,
      later(ms, fn) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (live(stream)) fn();
        }, ms);
        timers.add(t);
      },
      soon(fn) {
        const i = setImmediate(() => {
          immediates.delete(i);
          if (live(stream)) fn();
        });
        immediates.add(i);
      },
      goaway(code) {
        // One GOAWAY per session, naming every stream it has seen as processed (it has answered them):
        // a later GOAWAY may not raise the last stream id (RFC 9113 §6.8).
        const session = stream.session;
        if (!session || goneAway.has(session)) return;
        goneAway.add(session);
        try {
          session.goaway(code, lastStream.get(session) ?? 0);
        } catch {
          // The session is already going away.
        }
      },
      destroySocket() {
        const port = stream.session?.socket?.remotePort;
        const socket = port === undefined ? undefined : sockets.get(port);
        socket?.destroy();
      },
    };
    call.later(GIVE_UP_MS, () => reset(stream, constants.NGHTTP2_CANCEL));
    const target = headers[":path"];
    const method: Method | undefined =
      target === `/${SERVICE}/GetHTTPItem`
        ? "unary"
        : target === `/${SERVICE}/TailItem`
          ? "stream"
          : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    stream.once("end", () => {
      if (!method) return trailersOnly(stream, 12, `unknown method ${String(target)}`);
      if (size > MAX_REQUEST_BYTES) return trailersOnly(stream, 8, "request too large");
      const request = readRequest(method, Buffer.concat(chunks));
      if (!request) return trailersOnly(stream, 13, "request is not one valid message");
      try {
        answer(call, method, request, deadlineMs(headers["grpc-timeout"]));
      } catch {
        // Never thrown out of a listener: a fault of the chaos backend itself resets the stream.
        reset(stream, constants.NGHTTP2_INTERNAL_ERROR);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    openStreams: () => streams.size,
    openSessions: () => sessions.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
        for (const s of sockets.values()) s.destroy();
      }),
  };
}

/** One call as the modes see it: its stream and timers that end with it. */
interface Call {
  readonly stream: ServerHttp2Stream;
  /** Runs `fn` after `ms` if the stream is still open; cleared when it closes. */
  later(ms: number, fn: () => void): void;
  /** Runs `fn` on the next turn if the stream is still open; cleared when it closes. */
  soon(fn: () => void): void;
  /** Sends GOAWAY with `code` on the stream's session, once per session. */
  goaway(code: number): void;
  /** Destroys the TCP connection under the stream's session. */
  destroySocket(): void;
}

interface Request {
  readonly sku: string;
  readonly count: number;
}

function answer(call: Call, method: Method, req: Request, deadline: number | undefined): void {
  const { stream } = call;
  const mode = MODES.has(req.sku) ? (req.sku as ChaosMode) : undefined;
  const body = () => replyFrames(method, req);
  const half = () => {
    const first = body()[0] ?? frame(new Uint8Array(0));
    return first.subarray(0, Math.max(1, first.length >> 1));
  };
  switch (mode) {
    case undefined:
      reply(stream, body(), { "grpc-status": "0" });
      break;
    case "garbage-frame":
      reply(stream, [GARBAGE], { "grpc-status": "0" });
      break;
    case "bad-protobuf":
      // Field 1, length-delimited, claiming 255 bytes of which one follows.
      reply(stream, [frame(Uint8Array.of(0x0a, 0xff, 0x01))], { "grpc-status": "0" });
      break;
    case "wrong-content-type":
      if (respond(stream, { ":status": 200, "content-type": "text/html; charset=utf-8" }))
        end(stream, Buffer.from("<!doctype html><title>Welcome</title><p>It works!</p>\n"));
      break;
    case "http-status":
      if (respond(stream, { ":status": 503, "content-type": "text/plain" }))
        end(stream, Buffer.from("upstream connect error or disconnect/reset before headers\n"));
      break;
    case "rst":
    case "cancel": {
      // waitForTrailers: `close(code)` ends the stream first, which would otherwise send END_STREAM.
      if (!respond(stream, GRPC_HEADERS, { waitForTrailers: true })) break;
      write(stream, half());
      const code = mode === "rst" ? constants.NGHTTP2_INTERNAL_ERROR : constants.NGHTTP2_CANCEL;
      call.later(10, () => reset(stream, code));
      break;
    }
    case "refuse":
      reset(stream, constants.NGHTTP2_REFUSED_STREAM);
      break;
    case "goaway":
    case "goaway-error": {
      if (!respond(stream, GRPC_HEADERS, { waitForTrailers: true })) break;
      write(stream, half());
      const code = mode === "goaway" ? constants.NGHTTP2_NO_ERROR : constants.NGHTTP2_INTERNAL_ERROR;
      call.later(10, () => call.goaway(code));
      // The GOAWAY frame goes out first. The socket, not the session, is destroyed: Node's
      // session.destroy() would reset the streams (RST_STREAM NO_ERROR) first, as a process exit does not.
      call.later(30, () => call.destroySocket());
      break;
    }
    case "missing-status":
      reply(stream, body(), { "x-chaos": "no grpc-status here" });
      break;
    case "no-trailers":
      if (!respond(stream, GRPC_HEADERS)) break;
      for (const b of body()) write(stream, b);
      end(stream);
      break;
    case "huge-message":
      reply(stream, [hugeFrame()], { "grpc-status": "0" });
      break;
    case "length-bomb":
      reply(stream, [LENGTH_BOMB], { "grpc-status": "0" });
      break;
    case "hang":
      break;
    case "hang-after-headers":
      respond(stream, GRPC_HEADERS);
      break;
    case "endless-stream":
      if (respond(stream, GRPC_HEADERS)) pump(call, method, req.sku);
      break;
    case "slow-headers":
      call.later((deadline ?? 1_000) + LATE_MS, () => reply(stream, body(), { "grpc-status": "0" }));
      break;
    case "destroy-socket":
      if (!respond(stream, GRPC_HEADERS, { waitForTrailers: true })) break;
      write(stream, half());
      call.later(10, () => call.destroySocket());
      break;
  }
}

/** Writes messages for as long as the stream is open, respecting back-pressure. */
function pump(call: Call, method: Method, sku: string): void {
  let i = 0;
  const next = () => {
    for (let n = 0; n < BATCH; n++) {
      const ok = write(call.stream, message(method, sku, `${sku}-${i++}`));
      if (!live(call.stream)) return;
      if (!ok) {
        call.stream.once("drain", () => call.soon(next));
        return;
      }
    }
    call.soon(next);
  };
  next();
}

const GRPC_HEADERS: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc+proto" };

/** Flag byte 7 (gRPC knows 0 and 1), a length, and bytes that mean nothing. */
const GARBAGE = Buffer.from([
  7, 0, 0, 0, 16, 0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xc0, 0xff, 0xee, 0x42, 0x99, 0x01, 0x7f, 0x80, 0xfe,
  0x00,
]);

/** A length prefix claiming 2^31-1 bytes, and three of them. */
const LENGTH_BOMB = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);

let huge: Buffer | undefined;

/**
 * One valid reply of {@link HUGE_MESSAGE_BYTES}. Both reply types are
 * `{ Item item = 1; }`, so the same bytes are a valid message of either.
 */
function hugeFrame(): Buffer {
  huge ??= frame(
    toBinary(
      GetHTTPItemResponseSchema,
      create(GetHTTPItemResponseSchema, { item: { sku: "huge", name: "x".repeat(HUGE_MESSAGE_BYTES) } }),
    ),
  );
  return huge;
}

/** The correct reply: GetHTTPItem the item named by the sku; TailItem `count` items `<sku>-<i>`. */
function replyFrames(method: Method, req: Request): Buffer[] {
  if (method === "unary") return [message(method, req.sku, req.sku)];
  const count = Math.min(Math.max(req.count, 0), 10_000);
  return Array.from({ length: count }, (_, i) => message(method, req.sku, `${req.sku}-${i}`));
}

function message(method: Method, name: string, sku: string): Buffer {
  return method === "unary"
    ? frame(toBinary(GetHTTPItemResponseSchema, create(GetHTTPItemResponseSchema, { item: { sku, name } })))
    : frame(toBinary(TailItemResponseSchema, create(TailItemResponseSchema, { item: { sku, name } })));
}

/** The request: exactly one uncompressed length-prefixed message of the method's input type. */
function readRequest(method: Method, body: Buffer): Request | undefined {
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) return undefined;
  const bytes = body.subarray(5);
  try {
    if (method === "unary") return { sku: fromBinary(GetHTTPItemRequestSchema, bytes).sku, count: 1 };
    const req = fromBinary(TailItemRequestSchema, bytes);
    return { sku: req.sku, count: req.count };
  } catch {
    return undefined;
  }
}

const UNIT_MS: { readonly [unit: string]: number } = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/** `grpc-timeout` in milliseconds (PROTOCOL-HTTP2 "Requests": TimeoutValue TimeoutUnit). */
function deadlineMs(value: string | string[] | undefined): number | undefined {
  const m = typeof value === "string" ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!m) return undefined;
  return Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 1);
}

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

function live(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed;
}

/** A gRPC reply: headers, the body, and `trailers` (which may lack a status). */
function reply(stream: ServerHttp2Stream, body: Buffer[], trailers: OutgoingHttpHeaders): void {
  if (!respond(stream, GRPC_HEADERS, { waitForTrailers: true })) return;
  stream.once("wantTrailers", () => sendTrailers(stream, trailers));
  for (const b of body) write(stream, b);
  end(stream);
}

/** A trailers-only reply: the status in the headers, no body. */
function trailersOnly(stream: ServerHttp2Stream, status: number, message: string): void {
  if (
    !respond(stream, { ...GRPC_HEADERS, "grpc-status": String(status), "grpc-message": encodeURI(message) })
  )
    return;
  end(stream);
}

function respond(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  options?: { waitForTrailers?: boolean },
): boolean {
  if (!live(stream) || stream.headersSent) return false;
  try {
    stream.respond(headers, options);
    return true;
  } catch {
    return false;
  }
}

/** `stream.write`, or `true` (nothing to wait for) when the stream is gone. */
function write(stream: ServerHttp2Stream, bytes: Buffer): boolean {
  if (!live(stream) || stream.writableEnded) return true;
  try {
    return stream.write(bytes);
  } catch {
    return true;
  }
}

function end(stream: ServerHttp2Stream, bytes?: Buffer): void {
  if (!live(stream) || stream.writableEnded) return;
  try {
    if (bytes) stream.end(bytes);
    else stream.end();
  } catch {
    // Closed in the meantime.
  }
}

function sendTrailers(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders): void {
  if (!live(stream)) return;
  try {
    stream.sendTrailers(trailers);
  } catch {
    // Closed in the meantime.
  }
}

function reset(stream: ServerHttp2Stream, code: number): void {
  if (!live(stream)) return;
  try {
    stream.close(code);
  } catch {
    // Closed in the meantime.
  }
}
