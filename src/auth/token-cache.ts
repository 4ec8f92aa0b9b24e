import type { Identity } from "./types.js";

/**
 * A bounded cache of verified tokens, each entry dropped at the token's expiry.
 * Keyed by the token as received (the resource server uses the whole
 * Authorization header, so that a hit skips parsing it): the identity an entry
 * maps to holds the token anyway (to forward it), so a digest as key would
 * protect nothing and cost a SHA-256 per request. Only verified tokens are ever
 * added. Map insertion order gives least-recently-used eviction.
 */
export class TokenCache {
  private readonly entries = new Map<string, { identity: Identity; until: number }>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {}

  get(token: string): Identity | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    this.entries.delete(token);
    this.entries.set(token, e);
    return e.identity;
  }

  set(token: string, identity: Identity, until: number): void {
    if (this.capacity <= 0 || until <= this.now()) return;
    this.entries.delete(token);
    this.entries.set(token, { identity, until });
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
