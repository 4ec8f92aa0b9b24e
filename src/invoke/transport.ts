import type { Registry } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { createH2GrpcTransport } from "./h2-grpc.js";

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
}

/**
 * Creates the transport for a backend. gRPC always runs over HTTP/2 (h2c for
 * `http://`, TLS for `https://`) through the gateway's own lean client (the
 * hot path); Connect uses Connect's Node transport over HTTP/2, and
 * gRPC-Web HTTP/1.1, as browsers and proxies in front of such backends expect.
 */
export function createBackendTransport(options: TransportOptions): Transport {
  const baseUrl = options.target.replace(/\/+$/, "");
  switch (options.protocol) {
    case "grpc":
      return createH2GrpcTransport({
        baseUrl,
        ...(options.name ? { name: options.name } : {}),
        ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
      });
    case "connect":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true });
  }
}

/**
 * A gRPC transport for server reflection, a bidi-streaming service: Connect's
 * own gRPC transport over a connection of its own, which `close()` ends once
 * the descriptors are in (an idle HTTP/2 connection would otherwise keep the
 * process alive until Connect's idle timeout).
 */
export function createReflectionTransport(target: string): { transport: Transport; close(): void } {
  const baseUrl = target.replace(/\/+$/, "");
  const sessionManager = new Http2SessionManager(baseUrl);
  return {
    transport: createGrpcTransport({ baseUrl, sessionManager }),
    close: () => sessionManager.abort(),
  };
}
