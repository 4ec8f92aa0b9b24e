import type { JsonObject } from "@bufbuild/protobuf";
import type { CreateResult, SessionBounds, SessionPatch, SessionRecord, SessionStore } from "../types.js";
import type { RedisClient, Script } from "./client.js";
import { CREATE, DELETE, HOLD, OPEN, SWEEP, UPDATE } from "./store-scripts.js";

/**
 * Session records in Redis, shared by every replica (MCP 2025-11-25
 * basic/transports "Session Management": any replica can serve a session's
 * next request). Each record is a hash whose TTL is the idle timeout,
 * refreshed by `open` and lengthened by `hold`, so records of a gateway that
 * stopped for good disappear by themselves; `sweep` is still what deletes idle
 * sessions while replicas run, and returns their ids so live state is dropped.
 * Bounds and eviction live in Lua scripts (see `store-scripts.ts`): two
 * replicas creating at once cannot both pass a bound.
 *
 * `count` is the size of the index, which may include records that expired
 * on their own until the next sweep removes them.
 */
export class RedisSessionStore implements SessionStore {
  private readonly global: string;
  private readonly owners: string;
  private readonly createScript: Script;
  private readonly openScript: Script;
  private readonly holdScript: Script;
  private readonly updateScript: Script;
  private readonly deleteScript: Script;
  private readonly sweepScript: Script;

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    /** TTL of a record after its last `open` (the gateway's idle timeout), ms. */
    private readonly idleMs: number,
  ) {
    this.global = `${prefix}sessions`;
    this.owners = `${prefix}owners`;
    this.createScript = client.script("mcpengineSessionCreate", 4, CREATE);
    this.openScript = client.script("mcpengineSessionOpen", 3, OPEN);
    this.holdScript = client.script("mcpengineSessionHold", 3, HOLD);
    this.updateScript = client.script("mcpengineSessionUpdate", 1, UPDATE);
    this.deleteScript = client.script("mcpengineSessionDelete", 3, DELETE);
    this.sweepScript = client.script("mcpengineSessionSweep", 2, SWEEP);
  }

  create(record: SessionRecord, bounds: SessionBounds, now: number): Promise<CreateResult> {
    const ttl = Math.max(this.idleMs, record.busyUntil - now + this.idleMs);
    return this.createScript(
      this.global,
      this.owners,
      `${this.prefix}o:${record.owner}`,
      this.key(record.id),
      this.prefix,
      record.id,
      record.owner,
      now,
      bounds.maxSessions,
      bounds.maxPerOwner,
      ttl,
      record.lastSeen,
      ...fields(record),
    ).then(toCreateResult, this.client.fail);
  }

  open(id: string, now: number): Promise<SessionRecord | undefined> {
    return this.openScript(this.key(id), this.global, this.owners, this.prefix, id, now, this.idleMs).then(
      toRecord,
      this.client.fail,
    );
  }

  hold(id: string, until: number): Promise<void> {
    const ttl = until - Date.now() + this.idleMs;
    return this.holdScript(this.key(id), this.global, this.owners, this.prefix, until, ttl).then(
      ignore,
      this.client.fail,
    );
  }

  update(id: string, patch: SessionPatch): Promise<void> {
    const pairs: string[] = [];
    if (patch.logLevel !== undefined) pairs.push("logLevel", patch.logLevel);
    if (patch.clientCapabilities !== undefined) pairs.push("caps", JSON.stringify(patch.clientCapabilities));
    if (pairs.length === 0) return Promise.resolve();
    return this.updateScript(this.key(id), ...pairs).then(ignore, this.client.fail);
  }

  delete(id: string): Promise<boolean> {
    return this.deleteScript(this.global, this.owners, this.key(id), this.prefix, id).then(
      isOne,
      this.client.fail,
    );
  }

  sweep(now: number, idleMs: number): Promise<readonly string[]> {
    return this.sweepScript(this.global, this.owners, this.prefix, now, `(${now - idleMs}`).then(
      strings,
      this.client.fail,
    );
  }

  count(): Promise<number> {
    return this.client.redis.zcard(this.global).catch(this.client.fail);
  }

  private key(id: string): string {
    return `${this.prefix}s:${id}`;
  }
}

/** The record as hash fields; absent optional values are absent fields. */
function fields(r: SessionRecord): string[] {
  const out = [
    "id",
    r.id,
    "era",
    r.era,
    "version",
    r.version,
    "owner",
    r.owner,
    "caps",
    JSON.stringify(r.clientCapabilities),
    "lastSeen",
    String(r.lastSeen),
    "busyUntil",
    String(r.busyUntil),
  ];
  if (r.subject !== undefined) out.push("subject", r.subject);
  if (r.logLevel !== undefined) out.push("logLevel", r.logLevel);
  return out;
}

function toCreateResult(reply: unknown): CreateResult {
  const [verdict, ...evicted] = strings(reply);
  if (verdict === "ok") return { ok: true, evicted };
  if (verdict === "client" || verdict === "full") return { ok: false, reason: verdict };
  throw new Error(`unexpected reply of the session create script: ${String(verdict)}`);
}

/** A record from HGETALL pairs; undefined when absent or not one of ours (another writer, a bad prefix). */
function toRecord(reply: unknown): SessionRecord | undefined {
  if (!Array.isArray(reply)) return undefined;
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const k: unknown = reply[i];
    const v: unknown = reply[i + 1];
    if (typeof k === "string" && typeof v === "string") f.set(k, v);
  }
  const id = f.get("id");
  const era = f.get("era");
  const version = f.get("version");
  const owner = f.get("owner");
  const caps = parseObject(f.get("caps"));
  const lastSeen = Number(f.get("lastSeen"));
  const busyUntil = Number(f.get("busyUntil"));
  if (id === undefined || version === undefined || owner === undefined || !caps) return undefined;
  if ((era !== "streamable" && era !== "legacy") || !Number.isFinite(lastSeen + busyUntil)) return undefined;
  return {
    id,
    era,
    version,
    subject: f.get("subject"),
    owner,
    clientCapabilities: caps,
    logLevel: f.get("logLevel"),
    lastSeen,
    busyUntil,
  };
}

function parseObject(text: string | undefined): JsonObject | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    // JSON.parse yields JSON values only: an object here is a JsonObject.
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A reply that should be a list of strings, as one. */
function strings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.filter((v): v is string => typeof v === "string") : [];
}

function ignore(): void {}

function isOne(reply: unknown): boolean {
  return reply === 1;
}
