import { DEMO_USERS } from "./users.js";

/** What the banner shows about the running demo. */
export interface BannerFacts {
  /** The gateway's MCP endpoint. */
  readonly url: string;
  /** The identity provider's issuer; absent with `--no-auth`. */
  readonly issuer?: string;
  /** Smack's gRPC address and its database, in words. */
  readonly smack: string;
  /** This Node and this checkout's launcher, as host configs must run them. */
  readonly node: string;
  readonly bin: string;
}

/**
 * What `mcpengine demo` prints once every part is ready: the MCP URL, the demo
 * users, the host configuration that runs `mcpengine proxy <url>` (the package
 * is not on npm, so the entry runs this checkout's launcher), and how to try it
 * with the MCP Inspector.
 */
export function banner(f: BannerFacts): string {
  const proxy = `${f.node} ${f.bin} proxy ${f.url}`;
  const entry = JSON.stringify(
    { mcpServers: { smack: { command: f.node, args: [f.bin, "proxy", f.url] } } },
    null,
    2,
  );
  const lines = [
    "",
    "Smack demo is running: Smack (gRPC on Postgres), " +
      (f.issuer
        ? "an OpenID provider and the MCPEngine gateway, each its own process."
        : "and the MCPEngine gateway, with no login (--no-auth)."),
    "",
    `  MCP gateway on ${f.url}${f.issuer ? "   (OAuth: a bearer token from the provider below)" : ""}`,
    ...(f.issuer ? [`  OpenID provider ${f.issuer}`] : []),
    `  Smack           ${f.smack}`,
    "",
  ];
  if (f.issuer) {
    const width = Math.max(...DEMO_USERS.map((u) => `${u.login} / ${u.password}`.length));
    lines.push(
      "Demo users (user name / password):",
      ...DEMO_USERS.map((u) => `  ${`${u.login} / ${u.password}`.padEnd(width)}   ${describe(u)}`),
      "",
    );
  }
  lines.push(
    f.issuer
      ? "Connect an LLM host through the stdio proxy; it shows a login link (and opens your browser) on first use."
      : "Connect an LLM host through the stdio proxy:",
    "  Claude Desktop (claude_desktop_config.json) or Cursor (~/.cursor/mcp.json):",
    ...indent(entry, 4),
    "  Claude Code:",
    `    claude mcp add smack -- ${proxy}`,
    "  Or let the proxy write the entry (then restart the host):",
    `    ${f.node} ${f.bin} proxy install ${f.url} --name smack --claude-desktop   (or --cursor, --claude-code)`,
    "",
    "Try it with the MCP Inspector:",
  );
  if (f.issuer) {
    lines.push(
      `  npx @modelcontextprotocol/inspector ${proxy}`,
      "    then call a tool: the answer holds the login link; after the login, list the tools again.",
      "  Once logged in (tokens are kept in ~/.mcpengine), its CLI works too:",
      `  npx @modelcontextprotocol/inspector --cli ${proxy} --method tools/list`,
    );
  } else {
    lines.push(`  npx @modelcontextprotocol/inspector --cli ${f.url} --transport http --method tools/list`);
  }
  lines.push("", "Press Ctrl+C to stop everything.", "");
  return lines.join("\n");
}

/** A user's line: what they may do, and for the read-only one what happens when they write. */
function describe(u: (typeof DEMO_USERS)[number]): string {
  const note = u.scopes.includes("smack.write")
    ? ""
    : "; no write_to_channel, and writing asks for a new login";
  return `${u.role} (${u.scopes.join(" ")})${note}`;
}

function indent(text: string, spaces: number): string[] {
  return text.split("\n").map((l) => `${" ".repeat(spaces)}${l}`);
}
