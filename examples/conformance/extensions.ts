/**
 * The conformance suite's extension scenarios (`tasks-*`, unscored by the
 * suite itself) for the server leg: their results, read from the suite's
 * output folder, and the committed baseline of those that pass
 * (passing-extensions.json). A scenario in the baseline that no longer passes
 * is a regression and fails `npm run conformance`; one that passes and is not
 * in it is reported, to be added.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where the baseline lives: revision → scenarios that pass. */
export const BASELINE_PATH = new URL("./passing-extensions.json", import.meta.url);

/** The result of one scenario: its name, and its checks that failed (none: it passes). */
export interface ScenarioResult {
  readonly scenario: string;
  /** Checks run (skipped ones not counted). */
  readonly checks: number;
  readonly failures: readonly string[];
}

/** What the comparison with the baseline found. */
export interface ExtensionReport {
  readonly lines: readonly string[];
  /** Scenarios of the baseline that failed or did not run. */
  readonly regressed: readonly string[];
  /** Scenarios that pass and are not in the baseline yet. */
  readonly newlyPassing: readonly string[];
}

/** The baseline: per revision, the extension scenarios that pass. */
export function readBaseline(path: URL = BASELINE_PATH): { [revision: string]: readonly string[] } {
  const value: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${path.pathname}: expected an object of revision → scenario names`);
  }
  const out: { [revision: string]: readonly string[] } = {};
  for (const [revision, names] of Object.entries(value)) {
    if (revision.startsWith("$")) continue; // "$comment"
    if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
      throw new Error(`${path.pathname}: "${revision}" must list scenario names`);
    }
    out[revision] = names;
  }
  return out;
}

/**
 * The results of the scenarios whose name starts with `prefix`, from the
 * suite's output folder (`<dir>/server-<scenario>-<timestamp>/checks.json`).
 */
export function readResults(dir: string, prefix: string): ScenarioResult[] {
  const results: ScenarioResult[] = [];
  for (const entry of readdirSync(dir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const scenario = m?.[1];
    if (!scenario?.startsWith(prefix)) continue;
    const checks: unknown = JSON.parse(readFileSync(join(dir, entry, "checks.json"), "utf8"));
    const list = Array.isArray(checks) ? (checks as { id?: unknown; status?: unknown }[]) : [];
    const failures = list.filter((c) => c.status === "FAILURE").map((c) => String(c.id));
    // A skipped check (the suite has no test for it yet) says nothing about the gateway.
    results.push({ scenario, checks: list.filter((c) => c.status !== "SKIPPED").length, failures });
  }
  return results.sort((a, b) => a.scenario.localeCompare(b.scenario));
}

/** Compares results with the revision's baseline. Pure: the runner prints and decides. */
export function compareWithBaseline(
  results: readonly ScenarioResult[],
  baseline: readonly string[],
): ExtensionReport {
  const byName = new Map(results.map((r) => [r.scenario, r]));
  const lines = results.map((r) => {
    const mark = r.failures.length === 0 ? "✓" : "✗";
    const detail =
      r.failures.length > 0
        ? `failed: ${r.failures.join(", ")}`
        : r.checks === 0
          ? "no checks (the suite skips it)"
          : `${r.checks} checks`;
    const listed = baseline.includes(r.scenario) ? "" : " [not in the baseline]";
    return `  ${mark} ${r.scenario}: ${detail}${listed}`;
  });
  const regressed = baseline.filter((name) => {
    const r = byName.get(name);
    return !r || r.failures.length > 0;
  });
  for (const name of regressed) if (!byName.has(name)) lines.push(`  ✗ ${name}: did not run`);
  const newlyPassing = results
    .filter((r) => r.failures.length === 0 && r.checks > 0 && !baseline.includes(r.scenario))
    .map((r) => r.scenario);
  return { lines, regressed, newlyPassing };
}
