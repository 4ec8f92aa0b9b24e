/**
 * Decodes an `Mcp-Name` or `Mcp-Param-*` header value (MCP 2026-07-28
 * basic/transports "Value Encoding"): optional whitespace around it is not
 * part of the value (RFC 9110 §5.5); `=?base64?…?=` carries the Base64 of the
 * UTF-8 value; anything else is the literal value, which must be visible
 * ASCII, space or tab. Returns undefined for an invalid value.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, "");
  if (value.startsWith("=?base64?") && value.endsWith("?=") && value.length >= 11) {
    const encoded = value.slice(9, -2);
    if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
    return Buffer.from(encoded, "base64").toString("utf8");
  }
  return /^[\x20-\x7e\t]*$/.test(value) ? value : undefined;
}

/**
 * The header form of a primitive argument before encoding (MCP 2026-07-28
 * "Value Encoding": strings as-is, integers in decimal, booleans lowercase).
 */
export function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  return undefined;
}
