import { constants } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The error of a stream the backend reset (RST_STREAM) before its status, as
 * gRPC maps HTTP/2 error codes (PROTOCOL-HTTP2 "Errors"): REFUSED_STREAM is
 * UNAVAILABLE (nothing was processed), CANCEL CANCELLED, ENHANCE_YOUR_CALM
 * RESOURCE_EXHAUSTED, INADEQUATE_SECURITY PERMISSION_DENIED, any other INTERNAL.
 */
export function resetError(label: string, rstCode: number | undefined): ConnectError {
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
export function h2ErrorName(code: number | undefined): string {
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
export function httpStatusCode(status: number): Code {
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
