import { hash } from "node:crypto";
import type { Identity } from "./types.js";

/**
 * A bounded cache of verified tokens keyed by the SHA-256 of the token (the
 * token itself is never a key), each entry dropped at the token's expiry.
 * Map insertion order gives least-recently-used eviction.
 */
export class TokenCache {
  private readonly entries = new Map<string, { identity: Identity; until: number }>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {}

  static key(token: string): string {
    return hash("sha256", token, "base64url");
  }

  get(key: string): Identity | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.identity;
  }

  set(key: string, identity: Identity, until: number): void {
    if (this.capacity <= 0 || until <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { identity, until });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
