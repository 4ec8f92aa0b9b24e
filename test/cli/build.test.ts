import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo } from "../support/demo.js";
import { statelessRequest } from "../support/stateless.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * `npm run build` in a copy of the repository (so the checkout's own dist/ is
 * never half-written under the other CLI tests), then `bin/mcpengine.js` of
 * that copy: the build when fresh, the sources once one is newer.
 */
describe("the compiled build", () => {
  let dir: string;
  let bin: string;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: "" },
    });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mcpengine-build-"));
    for (const entry of [
      "package.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "bin",
      "src",
      "gen",
      "examples",
    ]) {
      cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: dir, encoding: "utf8" });
    expect(build.status, build.stderr + build.stdout).toBe(0);
    bin = join(dir, "bin", "mcpengine.js");
    // Mark the built CLI so the tests can tell which of the two ran.
    const main = join(dir, "dist", "src", "cli", "main.js");
    writeFileSync(main, readFileSync(main, "utf8").replace("Usage: mcpengine", "Usage (built): mcpengine"));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is what bin/mcpengine.js runs while it is fresh", () => {
    const out = run("help");
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain("Usage (built): mcpengine");
  });

  it("serves the demo: compiled gateway, Smack and descriptors", async () => {
    const demo = await startDemo(bin);
    try {
      const call = async (id: number, name: string, args: object) => {
        const res = await fetch(demo.url, {
          method: "POST",
          ...statelessRequest(id, "tools/call", { name, arguments: args }),
        });
        return ((await res.json()) as { result: { structuredContent: Record<string, unknown> } }).result;
      };
      await call(1, "write_to_channel", { channel: "build", text: "from dist" });
      const read = await call(2, "read_channel", { channel: "build" });
      expect(read.structuredContent.messages).toMatchObject([{ channel: "build", text: "from dist" }]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 60_000);

  it("gives way to the sources once one of them is newer", () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, "src", "http", "server.ts"), later, later);
    const out = run("help");
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain("Usage: mcpengine");
    expect(out.stdout).not.toContain("(built)");
  });
});
