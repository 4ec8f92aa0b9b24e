import { type RedisOptions as IoRedisOptions, Redis } from "ioredis";
import { SharedStateUnavailable } from "../errors.js";

/**
 * How to reach Redis: a `redis://` / `rediss://` URL, ioredis's own options
 * (host, port, password, `tls`, `sentinels`, …), or both (the options then
 * complete the URL). ioredis's `keyPrefix` is not accepted: our Lua scripts
 * compute keys it would not prefix; use the shared state's `keyPrefix`.
 */
export type RedisOptions = Omit<IoRedisOptions, "keyPrefix"> & { readonly url?: string };

/** A Lua script defined on a connection: its keys first, then its arguments. */
export type Script = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

/** Reply errors that say Redis cannot serve now, rather than that we sent something wrong. */
const UNAVAILABLE_REPLY =
  /^(LOADING|READONLY|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOAUTH|WRONGPASS|NOPERM|OOM)\b/;

/**
 * Fail fast, recover alone: no offline queue (a command while disconnected
 * fails at once), one retry, an answer within a second, reconnection with a
 * backoff capped at one second, channels re-subscribed after a reconnect.
 */
const FAIL_FAST: IoRedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1_000,
  connectTimeout: 2_000,
  autoResubscribe: true,
  retryStrategy: (attempt) => Math.min(50 * 2 ** Math.max(0, attempt - 1), 1_000),
  // After a failover the old primary answers READONLY: reconnect to find the new one.
  reconnectOnError: (err) => err.message.startsWith("READONLY"),
};

/**
 * One connection to Redis with the fail-fast settings, the memory of its last
 * connection error, and the mapping of every failure to
 * {@link SharedStateUnavailable} with secrets removed.
 */
export class RedisClient {
  readonly redis: Redis;
  private lastError = "";
  private readonly secrets: readonly string[];
  private readonly timeoutMs: number;

  /** Rethrows a command's failure as {@link SharedStateUnavailable}; made once, passed to `.catch`. */
  readonly fail = (err: unknown): never => {
    throw this.unavailable(err);
  };

  constructor(options: RedisOptions, role: string) {
    const { url, ...rest } = options;
    // Drop a keyPrefix that came in untyped (from a JSON config, say): see RedisOptions. RESP3 reply
    // mapping is dropped too: the scripts' replies are read in their RESP2 shapes.
    const { keyPrefix: _prefix, replyMapping: _mapping, ...own } = rest as IoRedisOptions;
    const { replyMapping: _default, ...defaults } = FAIL_FAST;
    const settings = { ...defaults, connectionName: `mcpengine-${role}`, ...own };
    this.redis = url === undefined ? new Redis(settings) : new Redis(url, settings);
    this.timeoutMs = settings.commandTimeout ?? 0;
    this.secrets = [
      own.password,
      own.sentinelPassword,
      ...(url === undefined ? [] : urlPasswords(url)),
    ].filter((s): s is string => typeof s === "string" && s.length > 0);
    // Without a listener ioredis prints every failed attempt; we keep the last one for messages.
    this.redis.on("error", (err: Error) => {
      this.lastError = this.redact(err.message);
    });
    this.redis.on("ready", () => {
      this.lastError = "";
    });
  }

  /** Defines a Lua script (EVALSHA, falling back to EVAL once per connection) and returns it. */
  script(name: string, numberOfKeys: number, lua: string): Script {
    this.redis.defineCommand(name, { numberOfKeys, lua });
    const fn: unknown = Reflect.get(this.redis, name);
    if (typeof fn !== "function") throw new Error(`ioredis did not define ${name}`);
    return fn.bind(this.redis) as Script;
  }

  /** The error to throw for `err`: {@link SharedStateUnavailable}, except a reply error that is our bug. */
  unavailable(err: unknown): Error {
    if (err instanceof SharedStateUnavailable) return err;
    const message = this.redact(err instanceof Error ? err.message : String(err));
    if (err instanceof Error && err.name === "ReplyError") {
      return UNAVAILABLE_REPLY.test(message) ? new SharedStateUnavailable(`answered ${message}`) : err;
    }
    if (/timed out/i.test(message)) {
      return new SharedStateUnavailable(`did not answer within ${this.timeoutMs} ms`);
    }
    const last = this.lastError && this.lastError !== message ? ` (last error: ${this.lastError})` : "";
    return new SharedStateUnavailable(`is not reachable: ${message}${last}`);
  }

  /** Waits until connected, or until the first attempt failed, or `ms`: whichever comes first. */
  async settled(ms: number): Promise<void> {
    if (this.redis.status === "ready") return;
    const redis = this.redis;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off("ready", done);
        redis.off("error", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      redis.once("ready", done);
      redis.once("error", done);
    });
  }

  /** Whether Redis answers a PING within the command timeout. */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  /** Closes the connection (QUIT when connected) and stops reconnecting. */
  async close(): Promise<void> {
    if (this.redis.status === "ready") await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }

  private redact(text: string): string {
    let out = text.replace(/(rediss?:\/\/)[^@\s/]*@/g, "$1***@");
    for (const secret of this.secrets) out = out.split(secret).join("***");
    return out;
  }
}

/** The URL's password as written and decoded: a message may quote either. */
function urlPasswords(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/**
 * Lua helper prepended to scripts: lengthens a key's TTL to `ttl` ms, never
 * shortens it (`PEXPIRE … GT` needs Redis 7; this works on 6 as well).
 */
export const LUA_EXTEND = `
local function extend(key, ttl)
  local cur = redis.call('PTTL', key)
  if cur ~= -2 and cur < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;
