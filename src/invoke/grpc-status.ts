import type { IncomingHttpHeaders } from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../../gen/es/google/rpc/status_pb.js";

/**
 * The error a backend reported in its trailers (or in the headers of a
 * trailers-only response), or `undefined` for `grpc-status: 0`. Never throws:
 * whatever a backend sends, the call ends with an error value.
 *
 * gRPC over HTTP/2 (PROTOCOL-HTTP2.md "Responses"): `grpc-status` is the
 * status, `grpc-message` its percent-encoded message, and
 * `grpc-status-details-bin` an optional base64 `google.rpc.Status` whose
 * details are kept. A status outside 0–16 is UNKNOWN (doc/statuscodes.md);
 * details that do not decode are ignored rather than failing the call.
 * Trailers without a status are UNKNOWN, as gRPC clients read them; `backend`
 * names the peer in that error.
 */
export function trailerStatus(h: IncomingHttpHeaders, backend = "the backend"): ConnectError | undefined {
  const raw = single(h["grpc-status"]);
  const details = statusDetails(single(h["grpc-status-details-bin"]));
  if (raw === undefined && !details) {
    return new ConnectError(`${backend} ended the call without a grpc-status`, Code.Unknown);
  }
  const code = statusCode(raw ?? String(details?.code ?? Code.Unknown));
  if (code === OK) return undefined;
  const message = percentDecode(single(h["grpc-message"]) ?? "") || details?.message || "";
  return statusError({ code, message, details: details?.details ?? [] });
}

/**
 * A `google.rpc.Status` (a trailer's, or a long-running operation's `error`) as the
 * `ConnectError` a failed call gives, its details kept for `describeRpcError`. A code
 * that is OK or outside 1–16 is UNKNOWN: the status stands for a failure.
 */
export function statusError(status: {
  readonly code: number;
  readonly message: string;
  readonly details: readonly { readonly typeUrl: string; readonly value: Uint8Array }[];
}): ConnectError {
  const code = status.code >= 1 && status.code <= 16 ? (status.code as Code) : Code.Unknown;
  const error = new ConnectError(status.message, code);
  error.details = status.details.map((any) => ({
    type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
    value: any.value,
  }));
  return error;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** gRPC's OK, which Connect's `Code` leaves out. */
const OK = 0;

/** A status code 0-16 (doc/statuscodes.md); anything else is UNKNOWN. */
function statusCode(raw: string): Code | typeof OK {
  const n = /^\d{1,2}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  return n >= 0 && n <= 16 ? (n as Code | typeof OK) : Code.Unknown;
}

/** `grpc-message` is percent-encoded UTF-8; a malformed escape is kept as written. */
function percentDecode(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function statusDetails(b64: string | undefined) {
  if (!b64) return undefined;
  try {
    return fromBinary(StatusSchema, Buffer.from(b64, "base64"));
  } catch {
    return undefined;
  }
}
