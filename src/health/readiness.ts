/** The verdict of one readiness check: whether it passes, and a short reason an operator can act on. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** One readiness check; it may answer at once or after a (bounded) look at a peer. */
export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

/**
 * The body of `/readyz`: ready only when every check passes. Served as JSON
 * with status 200 when ready, else 503 (as Kubernetes readiness probes and
 * load balancers read it).
 */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: { readonly [name: string]: CheckResult };
}

/** How long one check may take before it counts as failed (default of {@link checkReadiness}). */
export const CHECK_TIMEOUT_MS = 2_000;

/**
 * Runs the checks side by side; one that throws or takes longer than
 * `timeoutMs` fails with that as its detail, so a probe always gets an answer
 * in bounded time. A late check goes on in the background and may still fill
 * a cache for the next probe.
 */
export async function checkReadiness(
  checks: ReadonlyMap<string, ReadinessCheck>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<Readiness> {
  const entries = await Promise.all(
    [...checks].map(async ([name, check]) => [name, await bounded(check, timeoutMs)] as const),
  );
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
}

async function bounded(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(check), late]);
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A check whose answer is kept for `ttlMs` and shared by the probes that ask
 * while it runs, so a storm of probes (every balancer node, every few
 * seconds) costs one look at the peer per interval.
 */
export function cachedCheck(
  check: () => Promise<CheckResult>,
  ttlMs: number,
  now: () => number = Date.now,
): () => Promise<CheckResult> {
  let last: { at: number; result: CheckResult } | undefined;
  let running: Promise<CheckResult> | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.result);
    running ??= check()
      .catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }))
      .then((result) => {
        last = { at: now(), result };
        running = undefined;
        return result;
      });
    return running;
  };
}
