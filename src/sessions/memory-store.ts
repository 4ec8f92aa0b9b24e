import type { CreateResult, SessionBounds, SessionPatch, SessionRecord, SessionStore } from "./types.js";

/**
 * Session records of one replica, in memory (MCP 2025-11-25 basic/transports
 * "Session Management"). Records are immutable values: `open`, `hold` and
 * `update` store a new one, so a record handed out never changes under its
 * holder (as with Redis, where every answer is a copy).
 *
 * `records` is kept in the order of last `open`: a record moves to the end
 * when it is opened, so the least recently seen come first as long as the
 * clock passed as `now` does not go back. The global bound walks it from the
 * front, skipping busy sessions; the per-owner bound scans only that owner's
 * ids, found through `byOwner`.
 */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();
  private readonly byOwner = new Map<string, Set<string>>();

  create(record: SessionRecord, bounds: SessionBounds, now: number): Promise<CreateResult> {
    // An id that exists is replaced, not counted twice.
    this.remove(record.id);
    const mine = this.byOwner.get(record.owner);
    const victims: string[] = [];
    const needOwn = (mine?.size ?? 0) - bounds.maxPerOwner + 1;
    if (needOwn > 0 && mine) {
      const idle: SessionRecord[] = [];
      for (const id of mine) {
        const r = this.records.get(id);
        if (r && r.busyUntil <= now) idle.push(r);
      }
      if (idle.length < needOwn) return Promise.resolve({ ok: false, reason: "client" });
      idle.sort(byLastSeen);
      for (let i = 0; i < needOwn; i++) victims.push((idle[i] as SessionRecord).id);
    }
    const needAll = this.records.size - victims.length - bounds.maxSessions + 1;
    if (needAll > 0) {
      let found = 0;
      for (const r of this.records.values()) {
        if (r.busyUntil > now || (needOwn > 0 && victims.includes(r.id))) continue;
        victims.push(r.id);
        if (++found === needAll) break;
      }
      if (found < needAll) return Promise.resolve({ ok: false, reason: "full" });
    }
    for (const id of victims) this.remove(id);
    this.records.set(record.id, withLastSeen(record, record.lastSeen));
    // Looked up again: removing the owner's last session above dropped its set.
    const owned = this.byOwner.get(record.owner);
    if (owned) owned.add(record.id);
    else this.byOwner.set(record.owner, new Set([record.id]));
    return Promise.resolve({ ok: true, evicted: victims });
  }

  open(id: string, now: number): SessionRecord | undefined {
    const r = this.records.get(id);
    if (!r) return undefined;
    const seen = withLastSeen(r, now);
    // Delete and set moves it to the end: the front stays the least recently seen.
    this.records.delete(id);
    this.records.set(id, seen);
    return seen;
  }

  hold(id: string, until: number): void {
    const r = this.records.get(id);
    // Setting an existing key keeps its place in the order.
    if (r && until !== r.busyUntil) this.records.set(id, { ...r, busyUntil: until });
  }

  update(id: string, patch: SessionPatch): Promise<void> {
    const r = this.records.get(id);
    if (r) {
      this.records.set(id, {
        ...r,
        ...(patch.logLevel === undefined ? {} : { logLevel: patch.logLevel }),
        ...(patch.clientCapabilities === undefined ? {} : { clientCapabilities: patch.clientCapabilities }),
      });
    }
    return Promise.resolve();
  }

  delete(id: string): Promise<boolean> {
    return Promise.resolve(this.remove(id));
  }

  sweep(now: number, idleMs: number): Promise<readonly string[]> {
    const gone: string[] = [];
    // A full walk, not a stop at the first recent record: it runs a few times a minute, and stays
    // right even when the clock passed to open() went back.
    for (const r of this.records.values()) {
      if (now - r.lastSeen > idleMs && r.busyUntil <= now) gone.push(r.id);
    }
    for (const id of gone) this.remove(id);
    return Promise.resolve(gone);
  }

  count(): number {
    return this.records.size;
  }

  /** Forgets every record (the shared state is closing). */
  clear(): void {
    this.records.clear();
    this.byOwner.clear();
  }

  private remove(id: string): boolean {
    const r = this.records.get(id);
    if (!r) return false;
    this.records.delete(id);
    const mine = this.byOwner.get(r.owner);
    mine?.delete(id);
    if (mine?.size === 0) this.byOwner.delete(r.owner);
    return true;
  }
}

function byLastSeen(a: SessionRecord, b: SessionRecord): number {
  return a.lastSeen - b.lastSeen;
}

/** A copy with `lastSeen` changed, written out so every record has one shape (fast property access). */
function withLastSeen(r: SessionRecord, lastSeen: number): SessionRecord {
  return {
    id: r.id,
    era: r.era,
    version: r.version,
    subject: r.subject,
    owner: r.owner,
    clientCapabilities: r.clientCapabilities,
    logLevel: r.logLevel,
    lastSeen,
    busyUntil: r.busyUntil,
  };
}
