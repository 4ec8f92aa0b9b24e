import { describe, expect, it } from "vitest";
import { decodeHeaderValue } from "../../src/mcp/headers.js";
import { encodeHeaderValue, requestHeaders, screenTools } from "../../src/proxy/remote/request-headers.js";
import type { JsonRpcMessage } from "../../src/proxy/types.js";

describe("encodeHeaderValue", () => {
  it.each([
    { value: "write_to_channel", encoded: "write_to_channel" },
    { value: "smack://channels/general/messages", encoded: "smack://channels/general/messages" },
    { value: "with space\tand tab", encoded: "with space\tand tab" },
    { value: "", encoded: "" },
    { value: "héllo", encoded: "=?base64?aMOpbGxv?=" },
    { value: "日本", encoded: "=?base64?5pel5pys?=" },
    { value: " padded ", encoded: "=?base64?IHBhZGRlZCA=?=" },
    { value: "line\nbreak", encoded: "=?base64?bGluZQpicmVhaw==?=" },
    { value: "=?base64?aGk=?=", encoded: "=?base64?PT9iYXNlNjQ/YUdrPT89?=" },
  ])("encodes $value as $encoded, which the gateway decodes back", ({ value, encoded }) => {
    expect(encodeHeaderValue(value)).toBe(encoded);
    expect(decodeHeaderValue(encoded)).toBe(value);
  });
});

describe("requestHeaders", () => {
  const request = (method: string, params?: object): JsonRpcMessage => ({
    jsonrpc: "2.0",
    id: 1,
    method,
    ...(params ? { params } : {}),
  });
  it.each([
    { method: "tools/list", params: undefined, name: undefined },
    { method: "tools/call", params: { name: "read_channel" }, name: "read_channel" },
    { method: "prompts/get", params: { name: "summarize" }, name: "summarize" },
    {
      method: "resources/read",
      params: { uri: "smack://channels/é/messages" },
      name: "=?base64?c21hY2s6Ly9jaGFubmVscy/DqS9tZXNzYWdlcw==?=",
    },
    { method: "resources/list", params: { cursor: "x" }, name: undefined },
  ])("sets Mcp-Method $method and Mcp-Name $name", ({ method, params, name }) => {
    expect(requestHeaders(request(method, params), "2026-07-28")).toEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name === undefined ? {} : { "mcp-name": name }),
    });
  });

  it("sets only the version for a response", () => {
    expect(requestHeaders({ jsonrpc: "2.0", id: 1, result: {} }, "2026-07-28")).toEqual({
      "mcp-protocol-version": "2026-07-28",
    });
  });

  it("mirrors the tool's x-mcp-header arguments into Mcp-Param headers, nested ones too", () => {
    const { headers } = screenTools({
      tools: [
        {
          name: "send",
          inputSchema: {
            type: "object",
            properties: {
              region: { type: "string", "x-mcp-header": "Region" },
              urgent: { type: "boolean", "x-mcp-header": "Urgent" },
              count: { type: "integer", "x-mcp-header": "Count" },
              text: { type: "string" },
              target: {
                type: "object",
                properties: { tenant: { type: "string", "x-mcp-header": "Tenant" } },
              },
              absent: { type: "string", "x-mcp-header": "Absent" },
            },
          },
        },
        { name: "plain", inputSchema: { type: "object", properties: { a: { type: "string" } } } },
      ],
    });
    expect(headers.get("plain")).toEqual([]);
    const call = request("tools/call", {
      name: "send",
      arguments: {
        region: "eu-west",
        urgent: true,
        count: 3,
        text: "hi",
        target: { tenant: "acme" },
        absent: null,
      },
    });
    expect(requestHeaders(call, "2026-07-28", headers.get("send"))).toEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "send",
      "mcp-param-region": "eu-west",
      "mcp-param-urgent": "true",
      "mcp-param-count": "3",
      "mcp-param-tenant": "acme",
    });
  });
});

describe("screenTools (MCP 2026-07-28 server/tools, x-mcp-header)", () => {
  const tool = (name: string, properties: object, extra: object = {}) => ({
    name,
    inputSchema: { type: "object", properties, ...extra },
  });
  it.each([
    ["an empty name", { a: { type: "string", "x-mcp-header": "" } }, {}, /empty/],
    ["a name with a space", { a: { type: "string", "x-mcp-header": "My Header" } }, {}, /token/],
    ["a name with a colon", { a: { type: "string", "x-mcp-header": "X:Y" } }, {}, /token/],
    ["a non-ASCII name", { a: { type: "string", "x-mcp-header": "Région" } }, {}, /token/],
    ["a control character", { a: { type: "string", "x-mcp-header": "X\nY" } }, {}, /token/],
    ["a name that is not a string", { a: { type: "string", "x-mcp-header": 7 } }, {}, /empty/],
    ["a number property", { a: { type: "number", "x-mcp-header": "A" } }, {}, /"number"/],
    ["an object property", { a: { type: "object", "x-mcp-header": "A" } }, {}, /"object"/],
    ["an array property", { a: { type: "array", "x-mcp-header": "A" } }, {}, /"array"/],
    ["a null property", { a: { type: "null", "x-mcp-header": "A" } }, {}, /"null"/],
    ["a property of no type", { a: { "x-mcp-header": "A" } }, {}, /unspecified/],
    [
      "the same name twice, in other case",
      { a: { type: "string", "x-mcp-header": "Region" }, b: { type: "string", "x-mcp-header": "REGION" } },
      {},
      /repeats/,
    ],
    [
      "a property under items",
      { list: { type: "array", items: { type: "string", "x-mcp-header": "A" } } },
      {},
      /"properties" alone/,
    ],
    [
      "a property in a oneOf branch",
      {},
      { oneOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }] },
      /"properties" alone/,
    ],
    [
      "a property in $defs",
      {},
      { $defs: { t: { type: "string", "x-mcp-header": "A" } } },
      /"properties" alone/,
    ],
  ])(
    "leaves out a tool whose x-mcp-header has %s, and keeps the others",
    (_name, properties, extra, reason) => {
      const screened = screenTools({
        tools: [tool("bad", properties, extra), tool("good", { a: { type: "string", "x-mcp-header": "A" } })],
        nextCursor: "c",
      });
      expect(screened.result).toEqual({
        tools: [tool("good", { a: { type: "string", "x-mcp-header": "A" } })],
        nextCursor: "c",
      });
      expect(screened.rejected).toEqual([{ tool: "bad", reason: expect.stringMatching(reason) }]);
      expect(screened.headers.get("good")).toEqual([{ path: ["a"], header: "A" }]);
    },
  );

  it("returns the very result when every tool is valid", () => {
    const result = { tools: [tool("good", { a: { type: "integer", "x-mcp-header": "A" } })] };
    expect(screenTools(result).result).toBe(result);
  });
});
