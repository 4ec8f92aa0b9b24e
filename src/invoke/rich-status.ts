import { Code, type ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  HelpSchema,
  LocalizedMessageSchema,
  PreconditionFailureSchema,
  QuotaFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "../../gen/es/google/rpc/error_details_pb.js";
import { statusMapping } from "./status-map.js";

/**
 * Renders a backend error as readable text for a tool result: the status, the
 * message, and the standard `google.rpc` error details carried in
 * `grpc-status-details-bin` (google/rpc/error_details.proto). `DebugInfo` is
 * deliberately left out: stack traces are for operators, not for models.
 */
export function describeRpcError(err: ConnectError): string {
  const mapping = statusMapping(err.code);
  const lines = [`${capitalize(mapping.phrase)} (${mapping.name}): ${err.rawMessage || "no message"}`];
  for (const d of err.findDetails(BadRequestSchema)) {
    for (const v of d.fieldViolations) lines.push(`- field "${v.field}": ${v.description}`);
  }
  for (const d of err.findDetails(PreconditionFailureSchema)) {
    for (const v of d.violations)
      lines.push(`- precondition ${v.type} ${v.subject}: ${v.description}`.trim());
  }
  for (const d of err.findDetails(QuotaFailureSchema)) {
    for (const v of d.violations) lines.push(`- quota ${v.subject}: ${v.description}`);
  }
  for (const d of err.findDetails(ResourceInfoSchema)) {
    lines.push(
      `- resource ${d.resourceType} "${d.resourceName}"${d.description ? `: ${d.description}` : ""}`,
    );
  }
  for (const d of err.findDetails(ErrorInfoSchema)) {
    const meta = Object.entries(d.metadata)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    lines.push(`- reason ${d.reason}${d.domain ? ` (${d.domain})` : ""}${meta ? `: ${meta}` : ""}`);
  }
  for (const d of err.findDetails(RetryInfoSchema)) {
    if (d.retryDelay) lines.push(`- retry after ${formatSeconds(d.retryDelay.seconds, d.retryDelay.nanos)}`);
  }
  for (const d of err.findDetails(LocalizedMessageSchema)) lines.push(`- ${d.message}`);
  for (const d of err.findDetails(HelpSchema)) {
    for (const link of d.links) lines.push(`- see ${link.description}: ${link.url}`);
  }
  if (mapping.retryable && err.code !== Code.Canceled)
    lines.push("This error is transient; the call may be retried.");
  return lines.join("\n");
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function formatSeconds(seconds: bigint, nanos: number): string {
  return `${Number(seconds) + nanos / 1e9}s`;
}
