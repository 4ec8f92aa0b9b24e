import type { JsonRpcMessage } from "../types.js";
import { paramsOf, shapeOf } from "./messages.js";

/** The param a method's `Mcp-Name` header mirrors (MCP 2026-07-28 basic/transports "Request Headers"). */
const NAMED: { readonly [method: string]: string } = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/**
 * A tool argument a server wants mirrored into `Mcp-Param-<header>`
 * (`x-mcp-header` in its input schema): where the argument sits, as the chain
 * of `properties` keys from the schema's root, and the header's name part.
 */
export interface ParamHeader {
  readonly path: readonly string[];
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
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
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
  if (shape.method === "tools/call") {
    for (const p of paramHeaders) {
      // No value at the path (or null): no header (MCP 2026-07-28 basic/transports, "Custom Headers").
      const text = headerText(valueAt(params.arguments, p.path));
      if (text !== undefined) headers[`mcp-param-${p.header.toLowerCase()}`] = encodeHeaderValue(text);
    }
  }
  return headers;
}

/** The value at a chain of object keys, if every step is an object that has it. */
function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as { [key: string]: unknown })[key];
  }
  return current;
}

/** What a client on Streamable HTTP makes of a `tools/list` result's `x-mcp-header` declarations. */
export interface ScreenedTools {
  /** The result without the rejected tools (the same object when none was rejected). */
  readonly result: unknown;
  /** The mirrored arguments of each tool kept (an empty list for a tool that declares none). */
  readonly headers: Map<string, ParamHeader[]>;
  /** The tools left out, and why. */
  readonly rejected: readonly { readonly tool: string; readonly reason: string }[];
}

/**
 * Screens a `tools/list` result (MCP 2026-07-28 server/tools "x-mcp-header"):
 * a tool whose declarations break a constraint is left out of the result,
 * which a client on Streamable HTTP MUST do, so that the host never calls a
 * tool whose headers cannot be sent right; the others' declarations are kept
 * for their calls.
 */
export function screenTools(result: unknown): ScreenedTools {
  const headers = new Map<string, ParamHeader[]>();
  const rejected: { tool: string; reason: string }[] = [];
  const tools = (result as { tools?: unknown } | undefined)?.tools;
  if (!Array.isArray(tools)) return { result, headers, rejected };
  const kept = tools.filter((tool: { name?: unknown; inputSchema?: unknown } | null) => {
    if (typeof tool?.name !== "string") return true;
    const declared = headerDeclarations(tool.inputSchema);
    if ("invalid" in declared) {
      rejected.push({ tool: tool.name, reason: declared.invalid });
      return false;
    }
    headers.set(tool.name, declared.params);
    return true;
  });
  if (rejected.length === 0) return { result, headers, rejected };
  return { result: { ...(result as object), tools: kept }, headers, rejected };
}

/** RFC 9110 §5.1: a field name is a `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The types an `x-mcp-header` property may have; `number` is not among them. */
const PRIMITIVE = new Set(["string", "integer", "boolean"]);
/**
 * Keywords whose subschemas are not statically reachable (a chain of
 * `properties` keys only): an `x-mcp-header` under any of them is invalid.
 */
const UNREACHABLE = {
  single: [
    "items",
    "contains",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
  ],
  list: ["prefixItems", "oneOf", "anyOf", "allOf"],
  map: ["patternProperties", "dependentSchemas", "$defs", "definitions"],
} as const;

/**
 * The `x-mcp-header` declarations of one input schema, each checked against
 * the constraints of MCP 2026-07-28 basic/transports "Custom Headers from Tool
 * Parameters": a non-empty RFC 9110 token, unique regardless of case, on a
 * string, integer or boolean property statically reachable from the root.
 * The first violation makes the whole tool invalid.
 */
export function headerDeclarations(
  inputSchema: unknown,
): { readonly params: ParamHeader[] } | { readonly invalid: string } {
  const params: ParamHeader[] = [];
  const names = new Map<string, string>();
  const where = (path: readonly string[]) => (path.length > 0 ? path.join(".") : "the schema root");

  function visit(node: unknown, path: string[], reachable: boolean): string | undefined {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    const schema = node as { [key: string]: unknown };
    if (Object.hasOwn(schema, "x-mcp-header")) {
      const header = schema["x-mcp-header"];
      if (!reachable || path.length === 0) {
        return `x-mcp-header at ${where(path)} is not on a property reached through "properties" alone`;
      }
      if (typeof header !== "string" || header === "") return `x-mcp-header at ${where(path)} is empty`;
      if (!TOKEN.test(header)) return `x-mcp-header "${header}" is not an HTTP token`;
      if (typeof schema.type !== "string" || !PRIMITIVE.has(schema.type)) {
        return `x-mcp-header "${header}" is on a property of type ${JSON.stringify(schema.type ?? "unspecified")}, not string, integer or boolean`;
      }
      const twin = names.get(header.toLowerCase());
      if (twin !== undefined) return `x-mcp-header "${header}" repeats "${twin}"`;
      names.set(header.toLowerCase(), header);
      params.push({ path: [...path], header });
    }
    const properties = schema.properties;
    if (typeof properties === "object" && properties !== null && !Array.isArray(properties)) {
      for (const [key, child] of Object.entries(properties)) {
        const invalid = visit(child, [...path, key], reachable);
        if (invalid) return invalid;
      }
    }
    const children: unknown[] = [
      ...UNREACHABLE.single.map((k) => schema[k]),
      ...UNREACHABLE.list.flatMap((k) => (Array.isArray(schema[k]) ? (schema[k] as unknown[]) : [])),
      ...UNREACHABLE.map.flatMap((k) => {
        const m = schema[k];
        return typeof m === "object" && m !== null && !Array.isArray(m) ? Object.values(m) : [];
      }),
    ];
    for (const child of children) {
      const invalid = visit(child, path, false);
      if (invalid) return invalid;
    }
    return undefined;
  }

  const invalid = visit(inputSchema, [], true);
  return invalid ? { invalid } : { params };
}
