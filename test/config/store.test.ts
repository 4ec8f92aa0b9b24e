import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/index.js";

const backends = `backends: [{ name: a, target: "http://x:1" }]`;
/** Replicas sharing Redis share the key that seals input-required request state. */
const stateKey = `state_key: "${Buffer.alloc(32, 7).toString("base64")}"`;

function parse(store: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(`${store}\n${stateKey}\n${backends}`, { source: "mcpengine.yaml", env });
}

describe("store settings", () => {
  it("keeps the shared state in memory without a store section", () => {
    expect(parse("").store).toEqual({ kind: "memory" });
    expect(parse("store: null").store).toEqual({ kind: "memory" });
  });

  it.each([
    [
      "a plain URL, with the default prefix",
      `store: { redis: "redis://127.0.0.1:6379" }`,
      {},
      "redis://127.0.0.1:6379",
      "mcpengine:",
    ],
    [
      "TLS and a database",
      `store: { redis: "rediss://cache.internal:6380/2" }`,
      {},
      "rediss://cache.internal:6380/2",
      "mcpengine:",
    ],
    [
      "a prefix (snake or camel case)",
      `store: { redis: "redis://r", key_prefix: "{gw}:" }`,
      {},
      "redis://r",
      "{gw}:",
    ],
    ["camelCase keyPrefix", `store: { redis: "redis://r", keyPrefix: "p:" }`, {}, "redis://r", "p:"],
    [
      "a password from the environment",
      `store: { redis: "redis://:\${REDIS_PASSWORD}@r:6379/0" }`,
      { REDIS_PASSWORD: "s3cret" },
      "redis://:s3cret@r:6379/0",
      "mcpengine:",
    ],
    [
      "the whole URL from the environment",
      `store: { redis: "\${REDIS_URL}" }`,
      { REDIS_URL: "redis://env:1" },
      "redis://env:1",
      "mcpengine:",
    ],
  ])("reads %s", (_, text, env, url, keyPrefix) => {
    expect(parse(text, env).store).toEqual({ kind: "redis", url, keyPrefix });
  });

  it.each([
    ["no URL", `store: {}`, /^store\.redis: required: a redis:\/\/ or rediss:\/\/ URL$/],
    ["an empty URL", `store: { redis: "" }`, /^store\.redis: required/],
    [
      "another scheme",
      `store: { redis: "http://u:pw@r:6379" }`,
      /^store\.redis: must be a redis:\/\/ or rediss:\/\/ \(TLS\) URL such as redis:\/\/127\.0\.0\.1:6379, got "http:\/\/…"$/,
    ],
    [
      "no URL at all",
      `store: { redis: "127.0.0.1:6379" }`,
      /^store\.redis: must be a redis.*, got "127\.0\.0\.1:6379"$/,
    ],
    [
      "text that is not a URL",
      `store: { redis: "redis://:pw@[bad" }`,
      /^store\.redis: must be a redis.*, got "redis:\/\/\*\*\*@\[bad"$/,
    ],
    ["a path that is not a database", `store: { redis: "redis://r:6379/cache" }`, /database number/],
    ["an unknown key", `store: { redis: "redis://r", prefix: "x" }`, /^store\.prefix: unknown key/],
    [
      "an unset variable",
      `store: { redis: "\${REDIS_URL}" }`,
      /^store\.redis: environment variable REDIS_URL is not set$/,
    ],
  ])("refuses %s", (_, text, message) => {
    let error: unknown;
    try {
      parse(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { path, detail } = error as ConfigError;
    expect(`${path}: ${detail}`).toMatch(message);
    expect((error as ConfigError).message).not.toMatch(/pw/);
  });

  it("requires state_key with Redis, naming why", () => {
    const bare = `store: { redis: "redis://127.0.0.1:6379" }\n${backends}`;
    expect(() => parseConfig(bare, { source: "mcpengine.yaml" })).toThrow(
      /state_key.*required with store\.redis/,
    );
  });

  it("reads sessions.replica_lease and refuses one under a second", () => {
    expect(parse("sessions: { replica_lease: 3s }").sessions.replicaLeaseMs).toBe(3_000);
    expect(parse("").sessions.replicaLeaseMs).toBe(15_000);
    expect(() => parse("sessions: { replica_lease: 0.5s }")).toThrow(/sessions\.replica_lease.*at least 1s/);
  });
});
