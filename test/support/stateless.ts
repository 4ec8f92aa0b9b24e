/** `_meta` of a 2026-07-28 (stateless) request from a client with no capabilities. */
export const STATELESS_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};

/**
 * A stateless (2026-07-28) JSON-RPC request: the body with `_meta`, and the
 * headers that must mirror it (MCP-Protocol-Version, Mcp-Method, Mcp-Name).
 */
export function statelessRequest(
  id: number,
  method: string,
  params: Record<string, unknown> = {},
): { body: string; headers: Record<string, string> } {
  const name = method === "resources/read" ? params.uri : params.name;
  return {
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: STATELESS_META } }),
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
    },
  };
}
