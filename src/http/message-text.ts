import { structuredText } from "../invoke/index.js";

/**
 * A JSON-RPC message as JSON text, the structured content of a large tool
 * result serialized once: its text block already holds the same JSON (MCP
 * 2025-11-25 server/tools "Structured Content"; `structuredText`), which is put
 * in rather than made again from the object. It then comes as parts to be
 * written one after the other: joined, the megabyte-long string would be
 * flattened and measured again on its way to the socket, costing more than
 * the serialization saved.
 */
export function messageParts(message: unknown): string | readonly string[] {
  const result = (message as { result?: unknown }).result;
  const text = typeof result === "object" && result !== null ? structuredText(result) : undefined;
  if (text === undefined) return JSON.stringify(message);
  const { structuredContent: _, ...rest } = result as { [key: string]: unknown };
  const { jsonrpc, id } = message as { jsonrpc: unknown; id: unknown };
  // The structured content first, then the result's other members: `{"content":…}` after its "{"
  // (a slice is a view of the string, where a joined one would be copied whole on its way out).
  const start = `{"jsonrpc":${JSON.stringify(jsonrpc)},"id":${JSON.stringify(id)},"result":{"structuredContent":`;
  const others = JSON.stringify(rest);
  const parts = others === "{}" ? [start, text, "}}"] : [start, text, ",", others.slice(1), "}"];
  return parts;
}

/** {@link messageParts} as one string. */
export function messageText(message: unknown): string {
  const parts = messageParts(message);
  return typeof parts === "string" ? parts : parts.join("");
}
