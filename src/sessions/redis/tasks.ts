import type { JsonObject } from "@bufbuild/protobuf";
import type { TaskRecord, TaskStatus, TaskStore } from "../types.js";
import type { RedisClient, Script } from "./client.js";

/**
 * KEYS: the record. ARGV: version, record JSON, TTL ms. Creates the hash
 * `{ v, d }` with its expiry, unless the key exists. Returns 1, or 0 when taken.
 */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS: the record. ARGV: expected version, new version, record JSON.
 * Writes when the stored version is the expected one; HSET keeps the key's
 * expiry. Returns 1, or 0 when another write came first or the key is gone.
 */
const COMPARE_AND_SET = `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
return 1
`;

/**
 * Task records in Redis, shared by every replica: `<prefix>t:<id>` is a hash
 * of the version (`v`) and the record as JSON (`d`), expiring `ttlMs` after
 * the task's creation (PEXPIRE), so Redis forgets finished tasks by itself.
 * Create and compare-and-set are Lua scripts, atomic across replicas. A record
 * read back is checked field by field: a key written by something else is
 * treated as absent, never trusted.
 */
export class RedisTaskStore implements TaskStore {
  private readonly createScript: Script;
  private readonly casScript: Script;

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {
    this.createScript = client.script("mcpengineTaskCreate", 1, CREATE);
    this.casScript = client.script("mcpengineTaskCas", 1, COMPARE_AND_SET);
  }

  create(record: TaskRecord): Promise<boolean> {
    // The record outlives nothing: a TTL already spent still leaves it readable for a moment.
    const ttl = Math.max(1, Math.ceil(record.createdAt + record.ttlMs - Date.now()));
    return this.createScript(this.key(record.id), record.version, JSON.stringify(record), ttl).then(
      (n) => n === 1,
      this.client.fail,
    );
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.client.redis.hget(this.key(id), "d").then((text) => {
      if (text === null) return undefined;
      const record = parse(text);
      return record && record.id === id ? record : undefined;
    }, this.client.fail);
  }

  compareAndSet(version: number, next: TaskRecord): Promise<boolean> {
    return this.casScript(this.key(next.id), version, next.version, JSON.stringify(next)).then(
      (n) => n === 1,
      this.client.fail,
    );
  }

  private key(id: string): string {
    return `${this.prefix}t:${id}`;
  }
}

const STATUSES: ReadonlySet<string> = new Set<TaskStatus>([
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
]);

/** A record read back from Redis, or undefined when the text is not one. */
function parse(text: string): TaskRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isTaskRecord(value) ? value : undefined;
}

/** Whether a value read from the store is a {@link TaskRecord}. */
export function isTaskRecord(value: unknown): value is TaskRecord {
  if (!isObject(value)) return false;
  const v = value;
  return (
    typeof v.id === "string" &&
    typeof v.owner === "string" &&
    typeof v.kind === "string" &&
    typeof v.status === "string" &&
    STATUSES.has(v.status) &&
    optional(v.statusMessage, (x) => typeof x === "string") &&
    [v.createdAt, v.updatedAt, v.ttlMs, v.pollIntervalMs, v.version].every(Number.isSafeInteger) &&
    [v.inputRequests, v.inputResponses, v.result, v.error, v.source].every((x) => optional(x, isObject)) &&
    optional(v.replica, (x) => typeof x === "string")
  );
}

function optional(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
