import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { BadRequest } from "../../gen/grpc-js/google/rpc/error_details.js";
import { Status } from "../../gen/grpc-js/google/rpc/status.js";

/** One invalid field, as in `google.rpc.BadRequest.FieldViolation`. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * An error whose `google.rpc.Status` carries one detail message in the
 * `grpc-status-details-bin` trailer (the gRPC "richer error model").
 */
export function statusError(
  code: status,
  message: string,
  typeName: string,
  detail: Uint8Array,
): ServiceError {
  const body = Status.encode({
    code,
    message,
    details: [{ typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(detail) }],
  }).finish();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(body));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

/** An INVALID_ARGUMENT error with a `google.rpc.BadRequest` detail. */
export function invalidArgument(message: string, violations: FieldViolation[]): ServiceError {
  const detail = BadRequest.encode({ fieldViolations: violations }).finish();
  return statusError(status.INVALID_ARGUMENT, message, "google.rpc.BadRequest", detail);
}

/** A plain gRPC error with a status code. */
export function rpcError(code: status, message: string): ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new Metadata() });
}
