import { describe, expect, it } from "vitest";
import { isValidToolName, snakeCase } from "../../src/catalog/index.js";

describe("snakeCase", () => {
  it.each([
    ["ReadChannel", "read_channel"],
    ["WriteToChannel", "write_to_channel"],
    ["GetHTTPStatus", "get_http_status"],
    ["HTTPGet", "http_get"],
    ["ListV2Items", "list_v2_items"],
    ["Echo", "echo"],
    ["already_snake", "already_snake"],
  ])("turns %s into %s", (input, expected) => {
    expect(snakeCase(input)).toBe(expected);
  });
});

describe("isValidToolName", () => {
  it.each([
    ["read_channel", true],
    ["a.b-c_D9", true],
    ["x".repeat(128), true],
    ["x".repeat(129), false],
    ["", false],
    ["has space", false],
    ["slash/name", false],
  ])("judges %j as %s", (name, ok) => {
    expect(isValidToolName(name)).toBe(ok);
  });
});
