/**
 * Tool names as MCP constrains them: 1–128 characters of ASCII letters, digits,
 * `_`, `-` and `.` (MCP 2025-11-25, server/tools "Tool names").
 */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Reports whether `name` is a valid MCP tool name. */
export function isValidToolName(name: string): boolean {
  return TOOL_NAME.test(name);
}

/**
 * Converts an RPC name to snake_case: `ReadChannel` → `read_channel`,
 * `GetHTTPStatus` → `get_http_status`, `ListV2Items` → `list_v2_items`.
 */
export function snakeCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase();
}
