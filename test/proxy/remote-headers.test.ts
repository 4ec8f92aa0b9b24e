import { describe, expect, it } from "vitest";
import { decodeHeaderValue } from "../../src/mcp/headers.js";
import { encodeHeaderValue, paramHeadersOf, requestHeaders } from "../../src/proxy/remote/request-headers.js";
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

  it("mirrors the tool's x-mcp-header arguments into Mcp-Param headers", () => {
    const params = paramHeadersOf({
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
              bad: { type: "string", "x-mcp-header": "no spaces allowed" },
            },
          },
        },
        { name: "plain", inputSchema: { type: "object", properties: { a: { type: "string" } } } },
      ],
    });
    expect([...params.keys()]).toEqual(["send"]);
    const call = request("tools/call", {
      name: "send",
      arguments: { region: "eu-west", urgent: true, count: 3, text: "hi" },
    });
    expect(requestHeaders(call, "2026-07-28", params.get("send"))).toEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "send",
      "mcp-param-region": "eu-west",
      "mcp-param-urgent": "true",
      "mcp-param-count": "3",
    });
  });
});
