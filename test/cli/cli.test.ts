import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
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
    const child = spawn(process.execPath, [BIN, "demo", "--port", "0"], {
      env: { ...process.env, DATABASE_URL: "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = "";
        const timer = setTimeout(() => reject(new Error(`demo did not start: ${err}`)), 30_000);
        child.stderr.on("data", (chunk: Buffer) => {
          err += chunk.toString();
          const m = /MCP gateway on (\S+)/.exec(err);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      const res = await fetch(url, { method: "POST", ...statelessRequest(1, "tools/list") });
      const body = (await res.json()) as { result: { tools: { name: string }[] } };
      expect(body.result.tools.map((t) => t.name)).toContain("write_to_channel");
    } finally {
      child.kill("SIGINT");
    }
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
  });
});
