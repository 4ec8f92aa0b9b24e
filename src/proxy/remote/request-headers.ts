import type { JsonRpcMessage } from "../types.js";
import { paramsOf, shapeOf } from "./messages.js";

/** The param a method's `Mcp-Name` header mirrors (MCP 2026-07-28 basic/transports "Request Headers"). */
const NAMED: { readonly [method: string]: string } = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/** A tool argument a server wants mirrored into `Mcp-Param-<header>` (`x-mcp-header` in its input schema). */
export interface ParamHeader {
  readonly argument: string;
  readonly header: string;
}

/**
 * The header form of a value (MCP 2026-07-28 basic/transports "Value
 * Encoding"): visible ASCII, space and tab go as they are; anything else, and
 * values a server would read differently (surrounding whitespace, or text that
 * looks encoded), as `=?base64?<Base64 of the UTF-8>?=`.
 */
export function encodeHeaderValue(value: string): string {
  const plain =
    /^[\x20-\x7e\t]*$/.test(value) &&
    !/^[ \t]|[ \t]$/.test(value) &&
    !(value.startsWith("=?base64?") && value.endsWith("?="));
  return plain ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** A primitive argument as header text (strings as-is, integers in decimal, booleans lowercase). */
function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  return undefined;
}

/**
 * The headers of one 2026-07-28 request or notification: `MCP-Protocol-Version`,
 * `Mcp-Method`, `Mcp-Name` where the method has one, and `Mcp-Param-*` for the
 * tool's mirrored arguments. `paramHeaders` are those of the tool called, if known.
 */
export function requestHeaders(
  message: JsonRpcMessage,
  version: string,
  paramHeaders: readonly ParamHeader[] = [],
): { [name: string]: string } {
  const headers: { [name: string]: string } = { "mcp-protocol-version": version };
  const shape = shapeOf(message);
  if (shape.kind === "response") return headers;
  headers["mcp-method"] = shape.method;
  const params = paramsOf(message);
  const key = NAMED[shape.method];
  const name = key === undefined ? undefined : params[key];
  if (typeof name === "string") headers["mcp-name"] = encodeHeaderValue(name);
  const args = params.arguments;
  if (shape.method === "tools/call" && typeof args === "object" && args !== null) {
    for (const p of paramHeaders) {
      const text = headerText((args as { [key: string]: unknown })[p.argument]);
      if (text !== undefined) headers[`mcp-param-${p.header.toLowerCase()}`] = encodeHeaderValue(text);
    }
  }
  return headers;
}

/**
 * The mirrored arguments of each tool in a `tools/list` result: top-level
 * input-schema properties marked `x-mcp-header` (MCP 2026-07-28 server/tools).
 */
export function paramHeadersOf(result: unknown): Map<string, ParamHeader[]> {
  const found = new Map<string, ParamHeader[]>();
  const tools = (result as { tools?: unknown } | undefined)?.tools;
  if (!Array.isArray(tools)) return found;
  for (const tool of tools as { name?: unknown; inputSchema?: { properties?: unknown } }[]) {
    const properties = tool?.inputSchema?.properties;
    if (typeof tool?.name !== "string" || typeof properties !== "object" || properties === null) continue;
    const params: ParamHeader[] = [];
    for (const [argument, schema] of Object.entries(properties)) {
      const header = (schema as { "x-mcp-header"?: unknown } | null)?.["x-mcp-header"];
      if (typeof header === "string" && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header))
        params.push({ argument, header });
    }
    if (params.length > 0) found.set(tool.name, params);
  }
  return found;
}
