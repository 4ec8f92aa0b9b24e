import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startDemo } from "../support/demo.js";
import { IMAGE_PATH } from "../support/image.js";
import { statelessRequest } from "../support/stateless.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-cli-"));
  const path = join(dir, "mcpengine.yaml");
  writeFileSync(path, text);
  return path;
}

describe("mcpengine tools", () => {
  const config = configFile(
    `backends:\n  - name: smack\n    target: "http://127.0.0.1:1"\n    descriptors: "${IMAGE_PATH}"\n    services: [smack.v1.SmackService]\n`,
  );

  it("prints the catalog as JSON without any MCP client", () => {
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", config, "--json"], {
      encoding: "utf8",
    });
    expect(out.status, out.stderr).toBe(0);
    const tools = JSON.parse(out.stdout) as { name: string; rpc: string; inputSchema: object }[];
    expect(tools.map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
    expect(tools[1]?.rpc).toBe("smack.v1.SmackService/ReadChannel");
  });

  it("prints a readable catalog", () => {
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", config], { encoding: "utf8" });
    expect(out.stdout).toContain("read_channel  (smack: smack.v1.SmackService/ReadChannel)");
    expect(out.stdout).toContain("scopes: smack.write");
  });

  it("exits non-zero with a clear message for a bad config", () => {
    const bad = configFile("backends: []\n");
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", bad], { encoding: "utf8" });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/at least one backend/);
  });

  it("rejects an unknown command with usage", () => {
    const out = spawnSync(process.execPath, [BIN, "frobnicate"], { encoding: "utf8" });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain("Usage: mcpengine");
  });
});

describe("mcpengine demo", () => {
  it("serves Smack's tools over MCP on embedded defaults and stops on SIGINT", async () => {
    const demo = await startDemo(BIN);
    try {
      const res = await fetch(demo.url, { method: "POST", ...statelessRequest(1, "tools/list") });
      const body = (await res.json()) as { result: { tools: { name: string }[] } };
      expect(body.result.tools.map((t) => t.name)).toContain("write_to_channel");
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});
