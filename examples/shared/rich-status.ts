import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { BadRequest } from "../../gen/grpc-js/google/rpc/error_details.js";
import { Status } from "../../gen/grpc-js/google/rpc/status.js";

/** One invalid field, as in `google.rpc.BadRequest.FieldViolation`. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * An INVALID_ARGUMENT error carrying a `google.rpc.Status` with a
 * `google.rpc.BadRequest` detail in the `grpc-status-details-bin` trailer
 * (the gRPC "richer error model").
 */
export function invalidArgument(message: string, violations: FieldViolation[]): ServiceError {
  const detail = BadRequest.encode({ fieldViolations: violations }).finish();
  const body = Status.encode({
    code: status.INVALID_ARGUMENT,
    message,
    details: [{ typeUrl: "type.googleapis.com/google.rpc.BadRequest", value: Buffer.from(detail) }],
  }).finish();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(body));
  return Object.assign(new Error(message), { code: status.INVALID_ARGUMENT, details: message, metadata });
}

/** A plain gRPC error with a status code. */
export function rpcError(code: status, message: string): ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new Metadata() });
}
