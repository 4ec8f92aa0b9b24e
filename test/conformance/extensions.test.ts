import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareWithBaseline, readBaseline, readResults } from "../../examples/conformance/extensions.js";

/** A suite output folder holding one checks.json per scenario, as `conformance server -o` writes it. */
function outputDir(scenarios: { [name: string]: string[] }): string {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-ext-"));
  for (const [name, statuses] of Object.entries(scenarios)) {
    const at = join(dir, `server-${name}-2026-11-26T22-16-36-692Z`);
    mkdirSync(at);
    const checks = statuses.map((status, i) => ({ id: `${name}-check-${i}`, status }));
    writeFileSync(join(at, "checks.json"), JSON.stringify(checks));
  }
  return dir;
}

describe("extension scenarios against the committed baseline", () => {
  const dir = outputDir({
    "tasks-lifecycle": ["SUCCESS", "SUCCESS"],
    "tasks-wire-fields": ["SUCCESS", "FAILURE"],
    "tasks-new-one": ["SUCCESS"],
    "tasks-status-notifications": ["SKIPPED"],
    "tools-call-simple-text": ["FAILURE"],
  });
  const results = readResults(dir, "tasks-");

  it("reads each tasks-* scenario's failed checks from the suite's output", () => {
    expect(results).toEqual([
      { scenario: "tasks-lifecycle", checks: 2, failures: [] },
      { scenario: "tasks-new-one", checks: 1, failures: [] },
      { scenario: "tasks-status-notifications", checks: 0, failures: [] },
      { scenario: "tasks-wire-fields", checks: 2, failures: ["tasks-wire-fields-check-1"] },
    ]);
  });

  it.each([
    ["nothing when every listed scenario passes", ["tasks-lifecycle"], [], ["tasks-new-one"]],
    [
      "a listed scenario that fails",
      ["tasks-lifecycle", "tasks-wire-fields"],
      ["tasks-wire-fields"],
      ["tasks-new-one"],
    ],
    [
      "a listed scenario that did not run",
      ["tasks-gone"],
      ["tasks-gone"],
      ["tasks-lifecycle", "tasks-new-one"],
    ],
  ])("reports as regressed %s", (_what, baseline, regressed, newlyPassing) => {
    const report = compareWithBaseline(results, baseline);
    expect(report.regressed).toEqual(regressed);
    expect(report.newlyPassing).toEqual(newlyPassing);
    expect(report.lines.join("\n")).toContain("tasks-status-notifications: no checks (the suite skips it)");
  });

  it("holds a baseline of the tasks scenarios for 2026-07-28", () => {
    const baseline = readBaseline();
    expect(baseline["2026-07-28"]).toContain("tasks-lifecycle");
    expect(Object.keys(baseline)).toEqual(["2026-07-28"]);
  });
});
