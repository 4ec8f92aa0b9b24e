import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Registry } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { type BackendTls, readBackendTls, type TlsConnectOptions } from "./backend-tls.js";
import { createH2GrpcTransport } from "./h2-grpc.js";
import { withRetries } from "./retry.js";
import { type StaticHeaders, staticHeadersInterceptor } from "./static-headers.js";

/** The RPC protocol spoken to a backend. */
export type BackendProtocol = "grpc" | "connect" | "grpc-web";

/** What the gateway needs to reach one backend. */
export interface TransportOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  readonly target: string;
  /** The backend's name in the config, used in error messages. */
  readonly name?: string;
  /** Largest reply message accepted (gRPC only; default 64 MiB). */
  readonly maxMessageBytes?: number;
  readonly protocol: BackendProtocol;
  /** Types for `google.protobuf.Any` in JSON payloads (Connect JSON). */
  readonly registry?: Registry;
  /** TLS of an `https://` target: its files are read here (default: the system's CAs, no client certificate). */
  readonly tls?: BackendTls | undefined;
  /** Metadata sent with every call, under the caller's own (checked by `checkStaticHeaders`). */
  readonly headers?: StaticHeaders | undefined;
  /** Interval of HTTP/2 keep-alive PINGs, gRPC and Connect only (default 0: none). */
  readonly keepaliveMs?: number | undefined;
  /** Attempts of an idempotent call failing with UNAVAILABLE (default 3; 1: no retries). */
  readonly maxAttempts?: number | undefined;
}

/** A backend's transport, whose connections `close()` ends. */
export interface BackendTransport extends Transport {
  /** Ends the backend's connections; calls in flight fail with UNAVAILABLE. */
  close(): void;
}

/** Attempts of an idempotent call by default (gRFC A6 allows at most 5). */
const DEFAULT_ATTEMPTS = 3;
/** Longest wait for a keep-alive PING's answer, as in the gRPC client. */
const PING_TIMEOUT_MS = 20_000;

/**
 * Creates the transport for a backend. gRPC always runs over HTTP/2 (h2c for
 * `http://`, TLS for `https://`) through the gateway's own lean client (the
 * hot path; it also pools connections and fails fast while the backend is
 * down); Connect uses Connect's Node transport over HTTP/2, and gRPC-Web
 * HTTP/1.1, as browsers and proxies in front of such backends expect. TLS,
 * static metadata and retries of idempotent calls apply to all three.
 * Throws if a TLS file cannot be read or used.
 */
export function createBackendTransport(options: TransportOptions): BackendTransport {
  const baseUrl = options.target.replace(/\/+$/, "");
  const tls = options.tls ? readTls(options.tls) : undefined;
  const headers = options.headers ?? {};
  const interceptors: Interceptor[] =
    Object.keys(headers).length > 0 ? [staticHeadersInterceptor(headers)] : [];
  let inner: Transport;
  let close: () => void;
  switch (options.protocol) {
    case "grpc": {
      const t = createH2GrpcTransport({
        baseUrl,
        ...(options.name ? { name: options.name } : {}),
        ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
        tls,
        headers,
        keepaliveMs: options.keepaliveMs,
      });
      inner = t;
      close = () => t.close();
      break;
    }
    case "connect": {
      const keepaliveMs = options.keepaliveMs ?? 0;
      const sessionManager = new Http2SessionManager(
        baseUrl,
        keepaliveMs > 0
          ? {
              pingIntervalMs: keepaliveMs,
              pingIdleConnection: true,
              pingTimeoutMs: Math.min(keepaliveMs, PING_TIMEOUT_MS),
            }
          : {},
        tls ?? {},
      );
      inner = createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        sessionManager,
        interceptors,
      });
      close = () => sessionManager.abort();
      break;
    }
    case "grpc-web": {
      // An agent of its own, so that close() ends this backend's connections and no one else's.
      const agent = baseUrl.startsWith("https:")
        ? new HttpsAgent({ keepAlive: true, ...tls })
        : new HttpAgent({ keepAlive: true });
      inner = createGrpcWebTransport({
        baseUrl,
        httpVersion: "1.1",
        useBinaryFormat: true,
        nodeOptions: { agent },
        interceptors,
      });
      close = () => agent.destroy();
      break;
    }
  }
  const transport = withRetries(inner, { maxAttempts: options.maxAttempts ?? DEFAULT_ATTEMPTS });
  return { unary: transport.unary.bind(transport), stream: transport.stream.bind(transport), close };
}

/**
 * A gRPC transport for server reflection, a bidi-streaming service: Connect's
 * own gRPC transport over a connection of its own, which `close()` ends once
 * the descriptors are in (an idle HTTP/2 connection would otherwise keep the
 * process alive until Connect's idle timeout). It carries the backend's TLS
 * settings and static metadata, as its calls do.
 */
export function createReflectionTransport(
  target: string,
  options: { readonly tls?: BackendTls | undefined; readonly headers?: StaticHeaders | undefined } = {},
): { transport: Transport; close(): void } {
  const baseUrl = target.replace(/\/+$/, "");
  const sessionManager = new Http2SessionManager(baseUrl, {}, options.tls ? readTls(options.tls) : {});
  const headers = options.headers ?? {};
  return {
    transport: createGrpcTransport({
      baseUrl,
      sessionManager,
      interceptors: Object.keys(headers).length > 0 ? [staticHeadersInterceptor(headers)] : [],
    }),
    close: () => sessionManager.abort(),
  };
}

/** The TLS files, read; a problem (the config loader reports them first) is thrown. */
function readTls(tls: BackendTls): TlsConnectOptions {
  const read = readBackendTls(tls);
  if ("problem" in read) throw new Error(`tls.${read.problem.key}: ${read.problem.detail}`);
  return read.value;
}
