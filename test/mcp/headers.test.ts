import { describe, expect, it } from "vitest";
import { decodeHeaderValue, headerText } from "../../src/mcp/index.js";

describe("Mcp-Name / Mcp-Param-* value decoding (MCP 2026-07-28 Value Encoding)", () => {
  it.each([
    ["us-west1", "us-west1"],
    ["  padded\t", "padded"],
    ["=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界"],
    ["=?base64?IHBhZGRlZCA=?=", " padded "],
    ["=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?="],
    ["=?base64?SGVsbG8=", "=?base64?SGVsbG8="],
    ["SGVsbG8=", "SGVsbG8="],
  ])("decodes %j as %j", (raw, value) => {
    expect(decodeHeaderValue(raw)).toBe(value);
  });

  it.each(["=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?=", "caf\u00e9", "a\u0001b"])("refuses %j", (raw) => {
    expect(decodeHeaderValue(raw)).toBeUndefined();
  });

  it("renders primitive arguments as the header text", () => {
    expect([headerText("x"), headerText(42), headerText(true), headerText(false)]).toEqual([
      "x",
      "42",
      "true",
      "false",
    ]);
    expect(headerText(1.5)).toBeUndefined();
    expect(headerText({})).toBeUndefined();
  });
});
