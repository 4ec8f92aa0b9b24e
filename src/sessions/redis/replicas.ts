import type { ReplicaRegistry } from "../types.js";
import type { RedisClient } from "./client.js";

/**
 * Replica leases in Redis: `<prefix>replica:<id>` holds the end of the lease
 * (ms since the epoch) and expires then (`PX`), so a replica that died without
 * retiring disappears by itself. `alive` compares the stored end with the
 * caller's `now`, as the in-memory registry does.
 */
export class RedisReplicaRegistry implements ReplicaRegistry {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {}

  renew(replica: string, until: number): Promise<void> {
    const ms = Math.ceil(until - Date.now());
    const key = this.key(replica);
    const done = ms > 0 ? this.client.redis.set(key, String(until), "PX", ms) : this.client.redis.del(key);
    return done.then(ignore, this.client.fail);
  }

  alive(replica: string, now: number): Promise<boolean> {
    return this.client.redis
      .get(this.key(replica))
      .then((until) => until !== null && Number(until) > now, this.client.fail);
  }

  retire(replica: string): Promise<void> {
    return this.client.redis.del(this.key(replica)).then(ignore, this.client.fail);
  }

  private key(replica: string): string {
    return `${this.prefix}replica:${replica}`;
  }
}

function ignore(): void {}
