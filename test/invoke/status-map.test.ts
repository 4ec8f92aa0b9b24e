import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { STATUS_TABLE } from "../../src/invoke/index.js";

describe("STATUS_TABLE", () => {
  const codes = Object.values(Code).filter((v): v is Code => typeof v === "number");

  it("has a row for every gRPC status code but OK", () => {
    expect(codes).toHaveLength(16);
    for (const code of codes) expect(STATUS_TABLE[code]).toBeDefined();
  });

  it("uses each canonical name once", () => {
    const names = codes.map((c) => STATUS_TABLE[c].name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each([
    [Code.InvalidArgument, 400, -32602],
    [Code.NotFound, 404, -32002],
    [Code.Unavailable, 503, -32603],
    [Code.DeadlineExceeded, 504, -32603],
    [Code.PermissionDenied, 403, -32603],
  ])("maps code %i to HTTP %i and JSON-RPC %i", (code, http, rpc) => {
    expect(STATUS_TABLE[code].http).toBe(http);
    expect(STATUS_TABLE[code].jsonRpc).toBe(rpc);
  });
});
