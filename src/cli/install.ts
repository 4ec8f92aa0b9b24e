import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** LLM hosts whose configuration `mcpengine proxy install` can write. */
export type Host = "claude-desktop" | "cursor" | "claude-code";

/** The command a host runs for one server: this Node and this checkout's `mcpengine`. */
export interface ServerEntry {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * Where each host keeps its MCP servers (`mcpServers` in a JSON file):
 * Claude Desktop's per-user config, Cursor's global `~/.cursor/mcp.json`, and
 * Claude Code's project-scoped `.mcp.json` in the working directory.
 */
export function configPath(host: Host, home = homedir(), cwd = process.cwd()): string {
  switch (host) {
    case "claude-desktop":
      if (process.platform === "darwin") {
        return join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json");
      }
      if (process.platform === "win32") {
        return join(
          process.env.APPDATA ?? join(home, "AppData", "Roaming"),
          "Claude",
          "claude_desktop_config.json",
        );
      }
      return join(
        process.env.XDG_CONFIG_HOME ?? join(home, ".config"),
        "Claude",
        "claude_desktop_config.json",
      );
    case "cursor":
      return join(home, ".cursor", "mcp.json");
    case "claude-code":
      return join(cwd, ".mcp.json");
  }
}

/** The JSON a host needs for the server, as printed for copying. */
export function snippet(name: string, entry: ServerEntry): string {
  return `${JSON.stringify({ mcpServers: { [name]: entry } }, null, 2)}\n`;
}

/**
 * Adds (or replaces) the server under `mcpServers.<name>` in the host's config
 * file, keeping everything else in it. An existing file is first copied to
 * `<file>.bak`; the new file is written to a temporary name and renamed into
 * place, so a host never reads half a file. A file that is not a JSON object
 * is left alone and reported.
 */
export function installServer(
  path: string,
  name: string,
  entry: ServerEntry,
): { readonly path: string; readonly backup?: string; readonly replaced: boolean } {
  let config: { [k: string]: unknown } = {};
  let backup: string | undefined;
  if (existsSync(path)) {
    const text = readFileSync(path, "utf8");
    let parsed: unknown;
    try {
      parsed = text.trim() === "" ? {} : JSON.parse(text);
    } catch (err) {
      throw new Error(
        `${path} is not valid JSON (${(err as Error).message}); fix it or add the entry by hand`,
      );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error(`${path} does not hold a JSON object; add the entry by hand`);
    }
    config = parsed as { [k: string]: unknown };
    backup = `${path}.bak`;
    copyFileSync(path, backup);
  }
  const servers = config.mcpServers;
  if (servers !== undefined && (servers === null || typeof servers !== "object" || Array.isArray(servers))) {
    throw new Error(`${path}: mcpServers is not an object; add the entry by hand`);
  }
  const map = { ...((servers as { [k: string]: unknown } | undefined) ?? {}) };
  const replaced = name in map;
  map[name] = entry;
  config.mcpServers = map;
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(temp, path);
  return backup ? { path, backup, replaced } : { path, replaced };
}

/** A server name for the host's list, from the URL: `mcp.example.com` → `mcp-example-com`. */
export function serverName(url: URL): string {
  const base = `${url.hostname}${url.port ? `-${url.port}` : ""}`;
  return base.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "mcp-server";
}
