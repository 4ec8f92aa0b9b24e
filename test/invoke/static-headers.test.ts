import { describe, expect, it } from "vitest";
import { checkStaticHeaders } from "../../src/invoke/index.js";

describe("a backend's static metadata (headers:)", () => {
  it("is kept with lowercase names", () => {
    expect(
      checkStaticHeaders({ "X-Team": "payments", authorization: "Bearer s3cret", "trace-bin": "AAEC" }),
    ).toEqual({ value: { "x-team": "payments", authorization: "Bearer s3cret", "trace-bin": "AAEC" } });
    expect(checkStaticHeaders(undefined)).toEqual({ value: {} });
  });

  it.each([
    [":authority", "pseudo-headers are set by HTTP/2 from the target"],
    [":path", "pseudo-headers are set by HTTP/2 from the target"],
    ["content-type", "content-type is set by the protocol spoken to the backend"],
    ["Content-Type", "content-type is set by the protocol spoken to the backend"],
    ["te", "te is set by the HTTP/2 client or forbidden in HTTP/2"],
    ["connection", "connection is set by the HTTP/2 client or forbidden in HTTP/2"],
    ["host", "host is set by the HTTP/2 client or forbidden in HTTP/2"],
    ["transfer-encoding", "transfer-encoding is set by the HTTP/2 client or forbidden in HTTP/2"],
    ["grpc-timeout", "grpc-* names are reserved by gRPC"],
    ["grpc-status", "grpc-* names are reserved by gRPC"],
    ["x-mcpengine-subject", "mcpengine-* and x-mcpengine-* are set by the gateway for each call"],
    ["x-mcpengine-claim-email", "mcpengine-* and x-mcpengine-* are set by the gateway for each call"],
    ["mcpengine-request-id", "mcpengine-* and x-mcpengine-* are set by the gateway for each call"],
    ["x team", "not a gRPC metadata name (letters, digits, _ - . only)"],
    ["x/team", "not a gRPC metadata name (letters, digits, _ - . only)"],
    ["", "not a gRPC metadata name (letters, digits, _ - . only)"],
  ])("refuses the name %j: %s", (name, detail) => {
    expect(checkStaticHeaders({ [name]: "v" })).toEqual({ problem: { name, detail } });
  });

  it.each([
    ["x-team", "café", "the value must be printable ASCII (use a -bin name with base64 for anything else)"],
    ["x-team", "a\nb", "the value must be printable ASCII (use a -bin name with base64 for anything else)"],
    ["x-blob-bin", "not base64!", "the value of a -bin name must be base64"],
  ])("refuses %s: %j (%s)", (name, value, detail) => {
    expect(checkStaticHeaders({ [name]: value })).toEqual({ problem: { name, detail } });
  });

  it("refuses a name given twice in different cases", () => {
    expect(checkStaticHeaders({ "x-team": "a", "X-Team": "b" })).toEqual({
      problem: { name: "X-Team", detail: "given twice (names are not case-sensitive)" },
    });
  });
});
