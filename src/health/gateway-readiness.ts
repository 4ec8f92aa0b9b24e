import {
  type CheckResult,
  cachedCheck,
  checkReadiness,
  type Readiness,
  type ReadinessCheck,
} from "./readiness.js";
import { CONNECT_TIMEOUT_MS, tcpProbe } from "./tcp-probe.js";

/** One backend as readiness sees it: where it is, and whether its descriptors are loaded. */
export interface BackendReadiness {
  readonly name: string;
  readonly target: string;
  /** Its descriptors are loaded and its tools are in the catalog. */
  readonly ready: boolean;
  /** Why not, while not ready. */
  readonly error?: string;
}

/** What {@link createGatewayReadiness} looks at. */
export interface ReadinessSources {
  /** Every configured backend, in config order. */
  backends(): readonly BackendReadiness[];
  /** The resource server, when auth is on: its IdP's keys must have been fetched once. */
  readonly auth?: { ready(): Promise<CheckResult> };
  /** The shared session state, when there is one to ask (Redis). */
  readonly store?: { ready(): Promise<boolean> };
  /** How long a backend probe's or the IdP's answer is reused (default 3 s). */
  readonly cacheMs?: number;
  /** How long a backend probe waits for a connection (default 1 s). */
  readonly connectTimeoutMs?: number;
}

/**
 * The gateway's readiness (issue 13 "Health"): one check per backend
 * (`backend:<name>`: descriptors loaded, and its address accepts a TCP
 * connection — a backend down at start, or gone since, is not ready), `auth`
 * (the IdP's signing keys fetched at least once) and `store` (Redis answers).
 * Backend and IdP answers are cached for `cacheMs`, so probes from every
 * balancer node open one connection per backend per interval; Redis is asked
 * each time (one PING, bounded by its command timeout).
 */
export function createGatewayReadiness(sources: ReadinessSources): () => Promise<Readiness> {
  const cacheMs = sources.cacheMs ?? 3_000;
  const connectTimeoutMs = sources.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const probes = new Map<string, ReturnType<typeof cachedCheck>>();
  const probe = (target: string) => {
    let p = probes.get(target);
    if (!p) {
      p = cachedCheck(() => tcpProbe(target, connectTimeoutMs), cacheMs);
      probes.set(target, p);
    }
    return p();
  };
  const auth = sources.auth;
  // Keys once fetched stay fetched: only a failure is worth asking again, after the cache time.
  const authCheck = auth ? cachedCheck(() => auth.ready(), cacheMs) : undefined;
  return () => {
    const checks = new Map<string, ReadinessCheck>();
    for (const b of sources.backends()) {
      checks.set(`backend:${b.name}`, () =>
        b.ready
          ? probe(b.target)
          : { ok: false, detail: `descriptors not loaded: ${b.error || "not reached yet"}` },
      );
    }
    if (authCheck) checks.set("auth", authCheck);
    const store = sources.store;
    if (store) {
      checks.set("store", async () =>
        (await store.ready())
          ? { ok: true, detail: "the shared state answers" }
          : { ok: false, detail: "the shared state (Redis) does not answer" },
      );
    }
    return checkReadiness(checks);
  };
}
