/**
 * The shared state cannot be reached: Redis is down, unreachable, too slow
 * (no answer within the command timeout), refusing our credentials, or not
 * yet ready (loading, read-only after a failover). Every operation of the Redis
 * implementation rejects with this one class, fast, instead of queueing; the
 * client keeps reconnecting with backoff, so the next operation after Redis is
 * back succeeds without a restart. Session-era requests that need the state
 * should answer 503 (MCP 2025-11-25 basic/transports "Session Management" has
 * no better code for it); stateless ones do not touch it.
 *
 * The message names Redis and the cause and never a password: the cause's own
 * object is not kept (ioredis attaches the failed command and its arguments,
 * which for `AUTH` hold the password).
 */
export class SharedStateUnavailable extends Error {
  override readonly name = "SharedStateUnavailable";
  /** A stable code to switch on. */
  readonly code = "unavailable" as const;
  /** The cause, as text with secrets removed. */
  readonly detail: string;

  constructor(detail: string) {
    super(`shared state unavailable: Redis ${detail}`);
    this.detail = detail;
  }
}
