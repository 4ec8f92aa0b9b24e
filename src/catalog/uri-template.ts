/** A compiled URI template: matches concrete URIs and names their variables. */
export interface UriTemplate {
  readonly source: string;
  readonly variables: readonly string[];
  /** The variables of `uri`, or undefined when it does not match. */
  match(uri: string): Map<string, string> | undefined;
}

/**
 * Compiles the URI templates MCP resource templates use (RFC 6570): literal
 * text with `{var}` (simple expansion: one segment, percent-decoded) and
 * `{+var}` (reserved expansion: may span "/"). Other operators are refused.
 */
export function compileUriTemplate(source: string): UriTemplate {
  if (!source) throw new Error("the URI template is empty");
  const variables: string[] = [];
  let pattern = "^";
  let last = 0;
  for (const m of source.matchAll(/\{([^}]*)\}/g)) {
    pattern += escapeRegExp(source.slice(last, m.index));
    const expr = m[1] ?? "";
    const reserved = expr.startsWith("+");
    const name = reserved ? expr.slice(1) : expr;
    if (!/^[A-Za-z0-9_]+$/.test(name)) {
      throw new Error(`URI template ${source}: unsupported expression {${expr}} (use {name} or {+name})`);
    }
    if (variables.includes(name)) throw new Error(`URI template ${source}: variable {${name}} appears twice`);
    variables.push(name);
    pattern += reserved ? "(.+?)" : "([^/?#]+)";
    last = (m.index ?? 0) + m[0].length;
  }
  if (source.slice(last).includes("{") || source.slice(last).includes("}")) {
    throw new Error(`URI template ${source}: unbalanced braces`);
  }
  pattern += `${escapeRegExp(source.slice(last))}$`;
  const re = new RegExp(pattern);
  return {
    source,
    variables,
    match(uri) {
      const m = re.exec(uri);
      if (!m) return undefined;
      const out = new Map<string, string>();
      for (let i = 0; i < variables.length; i++) {
        const raw = m[i + 1] ?? "";
        let value = raw;
        try {
          value = decodeURIComponent(raw);
        } catch {
          return undefined;
        }
        out.set(variables[i] as string, value);
      }
      return out;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
