import type { Store } from "../../gen/es/mcpengine/v1/config_pb.js";
import { DEFAULT_KEY_PREFIX } from "../sessions/index.js";

/**
 * Where the shared state of sessions lives: this process's memory (one
 * replica), or Redis (any number of replicas, no affinity needed).
 */
export type StoreSettings =
  | { readonly kind: "memory" }
  | {
      readonly kind: "redis";
      /** A `redis://` or `rediss://` URL, after `${ENV}` substitution; it may hold a password. */
      readonly url: string;
      /** Prefix of every key and channel. */
      readonly keyPrefix: string;
    };

const MUST = "must be a redis:// or rediss:// (TLS) URL such as redis://127.0.0.1:6379";

/** A problem with the `store` section, at a key path under it. */
export interface StoreProblem {
  readonly path: string;
  readonly detail: string;
}

/**
 * Reads the `store` section. The URL is checked here, once, so a typo fails
 * at start rather than as a Redis that never answers; messages never repeat
 * the password.
 */
export function storeSettings(
  store: Store | undefined,
): { value: StoreSettings } | { problem: StoreProblem } {
  if (!store) return { value: { kind: "memory" } };
  const at = "store.redis";
  if (!store.redis) return { problem: { path: at, detail: "required: a redis:// or rediss:// URL" } };
  let url: URL;
  try {
    url = new URL(store.redis);
  } catch {
    return { problem: { path: at, detail: `${MUST}, got "${redact(store.redis)}"` } };
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return {
      problem: {
        path: at,
        detail: `${MUST}, got "${url.protocol}//…"`,
      },
    };
  }
  if (!url.hostname) return { problem: { path: at, detail: "names no host" } };
  if (!/^(\/\d*)?$/.test(url.pathname)) {
    return {
      problem: { path: at, detail: `the path must be a database number such as /0, got "${url.pathname}"` },
    };
  }
  return { value: { kind: "redis", url: store.redis, keyPrefix: store.keyPrefix || DEFAULT_KEY_PREFIX } };
}

/** The URL with anything between `//` and `@` (user and password) hidden. */
function redact(text: string): string {
  return text.replace(/\/\/[^@/]*@/, "//***@");
}
