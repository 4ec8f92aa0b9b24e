/** Fields every line has, shown in the line's head rather than as `key=value`. */
const HEAD = new Set(["time", "level", "msg", "pid", "hostname", "err"]);

/**
 * One JSON log line as a line for people (`--log-format pretty`):
 * `12:00:00.123 INFO  mcp request era=stateless method=tools/call …`, an
 * error's stack indented below. A line that is not JSON passes unchanged.
 * For a terminal, not for machines: the JSON format is the stable one.
 */
export function prettyLine(line: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return line;
  const o = entry as { [key: string]: unknown };
  const time = typeof o.time === "number" ? new Date(o.time).toISOString().slice(11, 23) : "";
  const level = String(o.level ?? "").toUpperCase();
  let out = `${time} ${level.padEnd(5)} ${typeof o.msg === "string" ? o.msg : ""}`;
  for (const [key, value] of Object.entries(o)) {
    if (!HEAD.has(key)) out += ` ${key}=${show(value)}`;
  }
  const err = o.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === "object") {
    const text = typeof err.stack === "string" ? err.stack : String(err.message ?? "");
    out += `\n    ${text.replaceAll("\n", "\n    ")}`;
  }
  return `${out}\n`;
}

/** A value as `key=value` shows it: plain when it reads unambiguously, else as JSON. */
function show(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
