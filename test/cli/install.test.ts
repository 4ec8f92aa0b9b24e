import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configPath, installServer, serverName } from "../../src/cli/install.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
const entry = {
  command: "/usr/bin/node",
  args: ["/x/bin/mcpengine.js", "proxy", "https://mcp.example.com/mcp"],
};

describe("mcpengine proxy install", () => {
  it("adds the server to an existing host config, keeping the rest and a backup", () => {
    const dir = mkdtempSync(join(tmpdir(), "install-"));
    const path = join(dir, "claude_desktop_config.json");
    const before = { theme: "dark", mcpServers: { other: { command: "x", args: [] } } };
    writeFileSync(path, JSON.stringify(before));
    const done = installServer(path, "mcp-example-com", entry);
    expect(done).toEqual({ path, backup: `${path}.bak`, replaced: false });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      theme: "dark",
      mcpServers: { other: { command: "x", args: [] }, "mcp-example-com": entry },
    });
    expect(JSON.parse(readFileSync(`${path}.bak`, "utf8"))).toEqual(before);
    expect(installServer(path, "mcp-example-com", entry).replaced).toBe(true);
  });

  it("creates the config and its folder when the host has none", () => {
    const dir = mkdtempSync(join(tmpdir(), "install-"));
    const path = join(dir, "deep", "mcp.json");
    expect(installServer(path, "s", entry)).toEqual({ path, replaced: false });
    expect(statSync(path).isFile()).toBe(true);
  });

  it("leaves a config that is not JSON alone and says so", () => {
    const dir = mkdtempSync(join(tmpdir(), "install-"));
    const path = join(dir, "mcp.json");
    writeFileSync(path, "{ not json");
    expect(() => installServer(path, "s", entry)).toThrow(/is not valid JSON/);
    expect(readFileSync(path, "utf8")).toBe("{ not json");
  });

  it.each([
    ["https://mcp.example.com/mcp", "mcp-example-com"],
    ["http://127.0.0.1:8080/mcp", "127-0-0-1-8080"],
  ])("names %s %s", (url, name) => {
    expect(serverName(new URL(url))).toBe(name);
  });

  it("knows where each host keeps its servers", () => {
    expect(configPath("cursor", "/home/u")).toBe("/home/u/.cursor/mcp.json");
    expect(configPath("claude-code", "/home/u", "/work/p")).toBe("/work/p/.mcp.json");
    if (process.platform === "linux") {
      expect(configPath("claude-desktop", "/home/u")).toMatch(/Claude\/claude_desktop_config\.json$/);
    }
  });

  it("writes Cursor's config with this node and this checkout's launcher", () => {
    const home = mkdtempSync(join(tmpdir(), "install-home-"));
    const out = spawnSync(
      process.execPath,
      [BIN, "proxy", "install", "https://mcp.example.com/mcp", "--cursor", "--no-browser"],
      {
        encoding: "utf8",
        env: { ...process.env, HOME: home },
      },
    );
    expect(out.status, out.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(home, ".cursor", "mcp.json"), "utf8"));
    expect(config.mcpServers["mcp-example-com"]).toEqual({
      command: process.execPath,
      args: [BIN, "proxy", "https://mcp.example.com/mcp", "--no-browser"],
    });
  });

  it("prints the entry when no host is named", () => {
    const out = spawnSync(
      process.execPath,
      [BIN, "proxy", "install", "https://mcp.example.com/mcp", "--name", "acme"],
      {
        encoding: "utf8",
      },
    );
    expect(out.status, out.stderr).toBe(0);
    expect(Object.keys(JSON.parse(out.stdout).mcpServers)).toEqual(["acme"]);
  });
});
