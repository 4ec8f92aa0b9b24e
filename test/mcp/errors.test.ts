import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { backendError, type ErrorSite, resourceNotFound } from "../../src/mcp/errors.js";
import { ErrorCode, McpErrorCode, statelessHttpStatus } from "../../src/mcp/index.js";

const INVALID_PARAMS = -32602;
const INTERNAL = -32603;

/**
 * gRPC code → JSON-RPC code of a failed resources/read, with sessions and in
 * 2026-07-28. Written out by hand: the table under test must agree with it.
 */
const RESOURCE_READ: readonly [string, Code, number, number][] = [
  ["CANCELLED", Code.Canceled, INTERNAL, INTERNAL],
  ["UNKNOWN", Code.Unknown, INTERNAL, INTERNAL],
  ["INVALID_ARGUMENT", Code.InvalidArgument, INVALID_PARAMS, INVALID_PARAMS],
  ["DEADLINE_EXCEEDED", Code.DeadlineExceeded, INTERNAL, INTERNAL],
  ["NOT_FOUND", Code.NotFound, -32002, INVALID_PARAMS],
  ["ALREADY_EXISTS", Code.AlreadyExists, INTERNAL, INTERNAL],
  ["PERMISSION_DENIED", Code.PermissionDenied, INTERNAL, INTERNAL],
  ["RESOURCE_EXHAUSTED", Code.ResourceExhausted, INTERNAL, INTERNAL],
  ["FAILED_PRECONDITION", Code.FailedPrecondition, INTERNAL, INTERNAL],
  ["ABORTED", Code.Aborted, INTERNAL, INTERNAL],
  ["OUT_OF_RANGE", Code.OutOfRange, INVALID_PARAMS, INVALID_PARAMS],
  ["UNIMPLEMENTED", Code.Unimplemented, INTERNAL, INTERNAL],
  ["INTERNAL", Code.Internal, INTERNAL, INTERNAL],
  ["UNAVAILABLE", Code.Unavailable, INTERNAL, INTERNAL],
  ["DATA_LOSS", Code.DataLoss, INTERNAL, INTERNAL],
  ["UNAUTHENTICATED", Code.Unauthenticated, INTERNAL, INTERNAL],
];

const URI = "test://static-text";
const read = (stateless: boolean): ErrorSite => ({ kind: "resource", uri: URI, stateless });

describe("backend failures as JSON-RPC errors", () => {
  it("covers every gRPC code", () => {
    const codes = Object.values(Code).filter((v): v is Code => typeof v === "number");
    expect(RESOURCE_READ.map(([, c]) => c).sort()).toEqual([...codes].sort());
  });

  it.each(RESOURCE_READ)(
    "maps %s on a resource read to %i with sessions and %i in 2026-07-28",
    (_, code, session, stateless) => {
      const err = new ConnectError("backend says no", code);
      expect(backendError(err, read(false)).code).toBe(session);
      expect(backendError(err, read(true)).code).toBe(stateless);
    },
  );

  it.each(RESOURCE_READ.filter(([, c]) => c !== Code.NotFound))(
    "maps %s on prompts/get and completion/complete like a resource read with sessions",
    (_, code, session) => {
      const err = new ConnectError("backend says no", code);
      expect(backendError(err, { kind: "prompt" }).code).toBe(session);
      expect(backendError(err, { kind: "completion" }).code).toBe(session);
    },
  );

  it("reports a resource the backend does not find like one the catalog does not know: the URI in data", () => {
    const err = new ConnectError("no such row", Code.NotFound);
    for (const stateless of [false, true]) {
      const mapped = backendError(err, read(stateless));
      expect(mapped).toMatchObject({ message: `Resource not found: ${URI}`, data: { uri: URI } });
      expect(mapped).toEqual(resourceNotFound(URI, stateless));
    }
  });

  it("keeps NOT_FOUND from a prompt or completion handler an internal error: -32002 names a resource", () => {
    const err = new ConnectError("no such row", Code.NotFound);
    expect(backendError(err, { kind: "prompt" }).code).toBe(INTERNAL);
    expect(backendError(err, { kind: "completion" }).code).toBe(INTERNAL);
  });

  it("tells the client what the backend said, in the message", () => {
    const mapped = backendError(new ConnectError("sku must not be empty", Code.InvalidArgument), read(false));
    expect(mapped.message).toBe("Invalid argument (INVALID_ARGUMENT): sku must not be empty");
    expect(mapped.data).toBeUndefined();
  });

  it("treats a failure that is not a ConnectError as UNKNOWN: an internal error", () => {
    const mapped = backendError(new Error("socket hang up"), read(true));
    expect(mapped).toMatchObject({ code: INTERNAL, message: "The backend failed (UNKNOWN): socket hang up" });
  });
});

describe("the HTTP status of a 2026-07-28 error", () => {
  it.each([
    ["Method not found", ErrorCode.MethodNotFound, 404],
    ["Invalid request", ErrorCode.InvalidRequest, 400],
    ["Header mismatch", McpErrorCode.HeaderMismatch, 400],
    ["Missing required client capability", McpErrorCode.MissingRequiredClientCapability, 400],
    ["Unsupported protocol version", McpErrorCode.UnsupportedProtocolVersion, 400],
    ["Request limited (the gateway's own)", McpErrorCode.RequestLimited, 429],
    ["Invalid params", ErrorCode.InvalidParams, 200],
    ["Internal error", ErrorCode.InternalError, 200],
    ["Resource not found (session code)", McpErrorCode.ResourceNotFound, 200],
    ["a server-defined code", -32000, 200],
  ])("answers %s (%i) with HTTP %i", (_, code, status) => {
    expect(statelessHttpStatus(code)).toBe(status);
  });
});
