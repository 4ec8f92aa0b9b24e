import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The soak (test/soak/run.ts) in its own process, so that its memory figures
 * are its workload's only: SOAK_SECONDS of mixed valid, invalid and abandoned
 * traffic, with backend faults, through a gateway (60 s with CI set, 10 s
 * otherwise). `SOAK_SECONDS=600 npx vitest run test/soak` runs longer.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? (process.env.CI ? 60 : 10));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: the figures are the script's JSON
type Figures = any;

function runSoak(): Promise<{ code: number | null; figures: Figures | undefined; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", "test/soak/run.ts"], {
      cwd: ROOT,
      env: { ...process.env, SOAK_SECONDS: String(SECONDS) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      // Keep the end: what a crash printed last.
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      resolve({ code, figures: line ? JSON.parse(line) : undefined, stderr });
    });
  });
}

describe("soak", () => {
  it(
    `serves ${SECONDS} s of mixed, invalid and abandoned traffic with backend faults: no unexpected outcome, no crash, no leak`,
    async () => {
      const { code, figures: f, stderr } = await runSoak();
      if (!f) expect.fail(`the soak printed no figures (exit ${code}); its stderr ended with:\n${stderr}`);
      const shown = JSON.stringify(f, null, 2);
      expect(f.crashes, `uncaught exceptions or unhandled rejections:\n${shown}`).toEqual([]);
      expect(f.drained, `scenarios still running ${f.drainLimitMs} ms after the soak ended:\n${shown}`).toBe(
        true,
      );
      expect(f.requests, `too few requests to mean anything:\n${shown}`).toBeGreaterThan(SECONDS * 50);
      expect(f.unexpected, `requests with an unexpected outcome:\n${shown}`).toBe(0);
      expect(
        f.warnings.filter((w: string) => w.startsWith("MaxListenersExceededWarning")),
        `listener leak warnings:\n${shown}`,
      ).toEqual([]);
      expect(f.answersAfter, `the gateway no longer answers after the soak:\n${shown}`).toBe(true);
      expect(
        f.memoryMB.heapGrowthPct,
        `heap after GC grew from ${f.memoryMB.heapStart} MB to ${f.memoryMB.heapEnd} MB:\n${shown}`,
      ).toBeLessThanOrEqual(f.memoryMB.heapLimitPct);
      expect(f.backendStreamsOpen, `backend streams still open after the soak:\n${shown}`).toBe(0);
      expect(
        f.backendStreamsDrainMs,
        `backend streams took ${f.backendStreamsDrainMs} ms to close once traffic stopped:\n${shown}`,
      ).toBeLessThanOrEqual(f.backendStreamsDrainLimitMs);
      expect(f.gatewaySessionsOpen, `gateway sessions left after the idle timeout:\n${shown}`).toBe(0);
      expect(f.leftoverHandles, `handles (sockets, timers) above the baseline:\n${shown}`).toEqual({});
      expect(f.pass, `the soak failed a criterion:\n${shown}`).toBe(true);
      expect(code, `exit code:\n${stderr}`).toBe(0);
    },
    (SECONDS + 60) * 1000,
  );
});
