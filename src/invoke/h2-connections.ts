import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type ClientSessionRequestOptions,
  connect,
  constants,
  type Http2Session,
  type OutgoingHttpHeaders,
  type Settings,
} from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeTlsError, type TlsConnectOptions } from "./backend-tls.js";
import { h2ErrorName } from "./h2-errors.js";

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

/** Most connections to one backend; past it calls queue on the least busy one (nghttp2 holds them). */
const MAX_CONNECTIONS = 4;
/** A connection without the backend's SETTINGS by then has failed (gRPC's MIN_CONNECT_TIMEOUT). */
const CONNECT_TIMEOUT_MS = 20_000;
/** Longest wait for a keep-alive PING's answer (gRPC's default keepalive timeout). */
const PING_TIMEOUT_MS = 20_000;
/** First time calls fail at once after a failed connect; doubles after each failed probe up to the cap. */
const FIRST_DOWN_MS = 1_000;
const MAX_DOWN_MS = 10_000;
/** No limit: RFC 9113 §6.5.2's initial value of SETTINGS_MAX_CONCURRENT_STREAMS. */
const UNLIMITED = 2 ** 32 - 1;
/**
 * The stream limit presumed of a connection whose peer's SETTINGS have not
 * come yet: the last one the backend announced, or at first the least RFC 9113
 * §6.5.2 recommends (100). Presuming none would put a burst of calls all on
 * the first connection, where a backend with a lower limit refuses the rest.
 */
const PRESUMED_STREAMS = 100;

/** Options of {@link createConnectionPool}. */
export interface ConnectionPoolOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  readonly origin: string;
  /** The backend as errors name it, e.g. `backend "inventory"`. */
  readonly label: string;
  /** TLS settings of an `https://` origin (CA, client certificate, server name). */
  readonly tls?: TlsConnectOptions | undefined;
  /** Interval of HTTP/2 PINGs on each connection (default 0: none). */
  readonly keepaliveMs?: number | undefined;
  /** Most connections (default 4). */
  readonly maxConnections?: number;
  /** Time for a new connection to bring the backend's SETTINGS (default 20 s). */
  readonly connectTimeoutMs?: number;
  /** First fail-fast window after a failed connect (default 1 s, doubling up to 10 s). */
  readonly downMs?: number;
}

/** The HTTP/2 connections to one backend, as the gRPC client uses them. */
export interface ConnectionPool {
  /**
   * Opens a stream on a connection with room for it under the peer's
   * SETTINGS_MAX_CONCURRENT_STREAMS, opening another connection when all are
   * full. Throws UNAVAILABLE while the backend is known down, and once closed.
   */
  request(headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions): ClientHttp2Stream;
  /** A stream on `session` was refused (REFUSED_STREAM, ENHANCE_YOUR_CALM): stops using the connection, unless its stream limit explains it. */
  refused(session: Http2Session, code: number): void;
  /**
   * The error of a call whose connection failed (`err`) or closed (no `err`)
   * under it; a connection that failed before it was set up marks the backend down.
   */
  failure(session: Http2Session | undefined, err?: Error): ConnectError;
  /** Destroys every connection: calls in flight fail with UNAVAILABLE, later ones too. */
  close(): void;
}

interface Connection {
  readonly session: ClientHttp2Session;
  /** Streams of ours open on it. */
  active: number;
  /** No new stream goes to it; it closes when `active` reaches 0. */
  retired?: boolean;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxStreams: number;
  /** The peer's SETTINGS arrived: the connection is set up (TLS and HTTP/2 preface done). */
  up: boolean;
  /** The socket (and TLS) connected. */
  connected: boolean;
  /** It failed before it was set up, and counted as a failed connect. */
  failed: boolean;
  /** A GOAWAY's error code, when not NO_ERROR. */
  goaway?: number;
  error?: Error;
  connectTimer?: NodeJS.Timeout;
  pinger?: NodeJS.Timeout;
  pinging: boolean;
}

/** The fail-fast errors, which retrying at once cannot help. */
const downErrors = new WeakSet<object>();

/** Whether `err` is a call refused at once because its backend is known down. */
export function isBackendDown(err: unknown): boolean {
  return typeof err === "object" && err !== null && downErrors.has(err);
}

/**
 * The connections to one backend (gRPC over HTTP/2). One connection carries
 * every call until the backend's SETTINGS_MAX_CONCURRENT_STREAMS is reached;
 * then another is opened, up to `maxConnections`. A connection that ends,
 * fails, goes quiet (no answer to a keep-alive PING) or receives GOAWAY is
 * dropped and the next call opens another.
 *
 * A connect that fails (refused, TLS, no SETTINGS within the connect timeout)
 * marks the backend down: until a window passes (1 s, doubling after each
 * failed probe up to 10 s, with jitter), calls fail at once with UNAVAILABLE
 * instead of each waiting on a connect of its own; the first call after the
 * window opens a new connection, which the calls after it share.
 */
export function createConnectionPool(options: ConnectionPoolOptions): ConnectionPool {
  const { origin, label } = options;
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const keepaliveMs = options.keepaliveMs ?? 0;
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const firstDownMs = options.downMs ?? FIRST_DOWN_MS;
  const conns: Connection[] = [];
  const bySession = new WeakMap<Http2Session, Connection>();
  let down: { until: number; delay: number; cause: string } | undefined;
  let presumedStreams = PRESUMED_STREAMS;
  let closed = false;

  function acquire(): Connection {
    if (closed) throw new ConnectError(`the gateway closed its connections to ${label}`, Code.Unavailable);
    let best: Connection | undefined;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i] as Connection;
      if (c.session.destroyed || c.session.closed) {
        drop(c);
        i--;
        continue;
      }
      if (c.active < c.maxStreams) return c;
      if (!best || busier(best, c)) best = c;
    }
    if (down && Date.now() < down.until) {
      if (best) return best;
      const err = new ConnectError(
        `${label} is down (last error: ${down.cause}; trying again in ${down.until - Date.now()} ms)`,
        Code.Unavailable,
      );
      downErrors.add(err);
      throw err;
    }
    return best && conns.length >= maxConnections ? best : open();
  }

  function open(): Connection {
    const session = connect(origin, {
      ...options.tls,
      maxSessionMemory: SESSION_MEMORY_MIB,
      settings: { initialWindowSize: STREAM_WINDOW },
    });
    const c: Connection = {
      session,
      active: 0,
      maxStreams: presumedStreams,
      up: false,
      connected: false,
      failed: false,
      pinging: false,
    };
    bySession.set(session, c);
    session.on("error", (err: Error) => {
      c.error = err;
      if (!c.up) markDown(c, err);
    });
    session.once("connect", () => {
      c.connected = true;
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW);
      } catch {
        // The session closed in the meantime; the next call opens another.
      }
    });
    session.on("remoteSettings", (settings: Settings) => {
      c.maxStreams = settings.maxConcurrentStreams ?? UNLIMITED;
      presumedStreams = c.maxStreams;
      if (c.up) return;
      c.up = true;
      down = undefined;
      clearTimeout(c.connectTimer);
      if (keepaliveMs > 0) {
        c.pinger = setInterval(() => ping(c), keepaliveMs);
        c.pinger.unref();
      }
    });
    session.on("close", () => {
      drop(c);
      if (!c.up) markDown(c, c.error ?? closedEarly(c));
    });
    session.on("goaway", (code: number) => {
      // Kept to say why the calls on it fail: Node reports only "Session closed with error code 2".
      if (code !== constants.NGHTTP2_NO_ERROR) c.goaway = code;
      retire(c);
    });
    c.connectTimer = setTimeout(() => {
      if (!c.up) session.destroy(new Error(`no HTTP/2 connection within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    c.connectTimer.unref();
    session.unref();
    conns.push(c);
    return c;
  }

  /** Sends a PING; no answer within the timeout destroys the connection, failing its calls. */
  function ping(c: Connection): void {
    const s = c.session;
    if (s.destroyed || s.closed) {
      drop(c);
      return;
    }
    if (c.pinging) return;
    const timeoutMs = Math.min(keepaliveMs, PING_TIMEOUT_MS);
    const timer = setTimeout(() => {
      s.destroy(new Error(`no answer to a keep-alive PING within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    c.pinging = s.ping(() => {
      clearTimeout(timer);
      c.pinging = false;
    });
    if (!c.pinging) clearTimeout(timer);
  }

  /** A connect failed: calls fail at once for a while, longer after each failed probe. */
  function markDown(c: Connection, err: Error): void {
    if (c.failed || closed) return;
    c.failed = true;
    const now = Date.now();
    const delay = !down
      ? firstDownMs
      : now >= down.until
        ? Math.min(down.delay * 2, MAX_DOWN_MS)
        : down.delay;
    // ±20% (gRPC's connection backoff), so that replicas do not probe in step.
    down = { until: now + Math.round(delay * (0.8 + Math.random() * 0.4)), delay, cause: describe(err) };
  }

  /** Forgets a connection that is gone. */
  function drop(c: Connection): void {
    const i = conns.indexOf(c);
    if (i >= 0) conns.splice(i, 1);
    clearTimeout(c.connectTimer);
    clearInterval(c.pinger);
  }

  /**
   * Stops using a connection: calls in flight on it finish, new ones go elsewhere; it closes once its streams are done. Closing at
   * once would refuse the streams opened on it in the same tick: Node sends the
   * GOAWAY before their HEADERS.
   */
  function retire(c: Connection): void {
    drop(c);
    c.retired = true;
    if (c.active === 0) closeSoon(c);
  }

  function closeSoon(c: Connection): void {
    setImmediate(() => {
      if (!c.session.closed && !c.session.destroyed) c.session.close();
    });
  }

  return {
    request(headers, requestOptions) {
      // A session refusing new streams (GOAWAY received, stream ids used up) throws: retire it, once.
      for (let attempt = 0; ; attempt++) {
        const c = acquire();
        try {
          const stream = c.session.request(headers, requestOptions) as PooledStream;
          c.active++;
          stream[CONNECTION] = c;
          stream[CLOSE_SOON] = closeSoon;
          // One listener shared by every stream, rather than a closure per call (the hot path).
          stream.on("close", onStreamClose);
          return stream;
        } catch (err) {
          retire(c);
          if (attempt > 0) {
            throw new ConnectError(`cannot reach ${label}: ${(err as Error).message}`, Code.Unavailable);
          }
        }
      }
    },

    refused(session, code) {
      const c = bySession.get(session);
      if (!c) return;
      // Refused for going over the peer's stream limit, sent before its SETTINGS came: the connection is fine.
      if (code === constants.NGHTTP2_REFUSED_STREAM && c.active > c.maxStreams) return;
      retire(c);
    },

    failure(session, err) {
      if (closed) return new ConnectError(`the gateway closed its connections to ${label}`, Code.Unavailable);
      const c = session ? bySession.get(session) : undefined;
      // Node cancels the streams waiting on a connection that fails with its own error; the cause says why.
      const cause =
        err && (err as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_CANCEL" && err.cause instanceof Error
          ? err.cause
          : err;
      if (c) retire(c);
      if (c && !c.up) {
        // Node may destroy a session whose TLS handshake the peer rejects without an error or close event.
        const why = cause ?? c.error ?? closedEarly(c);
        markDown(c, why);
        return new ConnectError(`cannot connect to ${label} (${origin}): ${describe(why)}`, Code.Unavailable);
      }
      if (!cause) {
        return new ConnectError(`the connection to ${label} closed before the call ended`, Code.Unavailable);
      }
      const why =
        c?.goaway === undefined ? describe(cause) : `the backend sent GOAWAY ${h2ErrorName(c.goaway)}`;
      return new ConnectError(`the connection to ${label} failed: ${why}`, Code.Unavailable);
    },

    close() {
      closed = true;
      for (const c of conns.splice(0)) {
        drop(c);
        c.session.destroy();
      }
    },
  };
}

const CONNECTION = Symbol("connection");
const CLOSE_SOON = Symbol("closeSoon");

/** A stream of the pool, carrying what its `close` listener needs. */
interface PooledStream extends ClientHttp2Stream {
  [CONNECTION]?: Connection;
  [CLOSE_SOON]?: (c: Connection) => void;
}

/** A stream ended: its connection has room for another; a retired one closes with its last stream. */
function onStreamClose(this: PooledStream): void {
  const c = this[CONNECTION];
  if (!c) return;
  c.active--;
  if (c.retired && c.active === 0) this[CLOSE_SOON]?.(c);
}

/** Why a connection that closed without an error before the peer's SETTINGS failed, as far as can be told. */
function closedEarly(c: Connection): Error {
  // A backend that refuses the client certificate may close the connection without a TLS alert
  // (Node reports none for an unknown CA under TLS 1.3): say what it looks like.
  if (c.connected && c.session.encrypted) {
    return new Error(
      "the backend closed the connection after the TLS handshake, before its HTTP/2 SETTINGS (does it accept the client certificate, tls.cert?)",
    );
  }
  return new Error("the connection closed before the backend's HTTP/2 SETTINGS");
}

/**
 * Whether `a` is a worse place than `b` for a call when every connection is
 * full: a connection whose SETTINGS came is better (nghttp2 then holds the
 * stream until one ends; before them it would send it, to be refused), then
 * the one with fewer calls over its limit.
 */
function busier(a: Connection, b: Connection): boolean {
  if (a.up !== b.up) return b.up;
  return b.active - b.maxStreams < a.active - a.maxStreams;
}

function describe(err: Error): string {
  return describeTlsError(err) ?? err.message;
}
