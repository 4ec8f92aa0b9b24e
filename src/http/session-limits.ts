/** Limits and timings of sessions (session-era revisions and 2024-11-05). */
export interface SessionLimits {
  /** A session without traffic or open streams for this long is closed (ms). */
  readonly idleTimeoutMs: number;
  /** Most concurrent sessions; more are refused with 503. */
  readonly maxSessions: number;
  /** Events kept per stream for `Last-Event-ID` replay. */
  readonly maxBufferedEvents: number;
  /** Interval of SSE keep-alive comments (ms). */
  readonly keepAliveMs: number;
  /** Server-to-client requests fail after this long without an answer (ms). */
  readonly clientRequestTimeoutMs: number;
  /** Bytes of events kept for replay across all sessions; the oldest finished streams go first. */
  readonly maxBufferedBytes: number;
  /** Sessions one client may hold (its token's subject, else its address); its own idle ones go first. */
  readonly maxSessionsPerClient: number;
  /**
   * How long a replica's lease, and its hold on a busy session, last without
   * renewal (ms); renewed at a third of it. A replica silent for longer is gone.
   */
  readonly replicaLeaseMs: number;
}

/** The limits used where the configuration names none (docs/security.md "Limits"). */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleTimeoutMs: 30 * 60_000,
  maxSessions: 10_000,
  maxBufferedEvents: 1_000,
  keepAliveMs: 15_000,
  clientRequestTimeoutMs: 5 * 60_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxSessionsPerClient: 1_000,
  replicaLeaseMs: 15_000,
};
