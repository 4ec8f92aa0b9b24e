import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fromJson } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import {
  type Config,
  ConfigSchema,
  BackendProtocol as ProtoProtocol,
  type RequestLimit,
} from "../../gen/es/mcpengine/v1/config_pb.js";
import { AuthConfigError, type AuthSettings, authSettings } from "../auth/index.js";
import type { BackendProtocol } from "../invoke/index.js";
import { type BackendConnection, connectionSettings } from "./backend-connection.js";
import { interpolate } from "./env.js";
import { ConfigError } from "./error.js";
import { type ListenerTlsSettings, listenerTlsSettings } from "./listener-tls.js";
import { readDocument } from "./shape.js";
import { type StoreSettings, storeSettings } from "./store.js";

/** A backend after defaults are applied (its connection settings: {@link BackendConnection}). */
export interface BackendConfig extends BackendConnection {
  readonly name: string;
  readonly target: string;
  /** `reflection`, or an absolute path to a FileDescriptorSet / buf image. */
  readonly descriptors: { kind: "reflection" } | { kind: "file"; path: string };
  readonly protocol: BackendProtocol;
  readonly timeoutMs: number;
  /** Most calls in flight to this backend. */
  readonly maxInflight: number;
  readonly services: readonly string[];
  readonly identity: BackendIdentity;
}

/** How the caller's identity reaches a backend. */
export interface BackendIdentity {
  /** forward: the caller's bearer token; exchange: an RFC 8693 token for `exchangeAudience`; none. */
  readonly mode: "forward" | "exchange" | "none";
  readonly exchangeAudience?: string;
  readonly exchangeScopes: readonly string[];
  /** Claims sent as `x-mcpengine-claim-<name>`. */
  readonly claims: readonly string[];
}

/** The gateway configuration after defaults are applied and checked. */
export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly serverName: string;
  readonly maxBodyBytes: number;
  /** Largest streamed tool result and largest backend reply message, in bytes. */
  readonly maxResultBytes: number;
  /** Most concurrent client connections. */
  readonly maxConnections: number;
  /** Most backend calls in flight over all backends. */
  readonly maxInflight: number;
  /** Time for a request's headers and body to arrive. */
  readonly requestTimeoutMs: number;
  readonly backends: readonly BackendConfig[];
  /** Bearer-token validation; absent when the gateway runs without auth. */
  readonly auth?: AuthSettings;
  /** Public origin of the gateway, when it differs from the listen address. */
  readonly publicUrl?: string;
  readonly sessions: SessionSettings;
  /** Host names accepted in Host/Origin (empty: the default for the listen address). */
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  /** Key sealing input-required state; random per process when absent. */
  readonly stateKey?: Uint8Array;
  /** Where the shared state of sessions lives (`store`); in memory when the section is absent. */
  readonly store: StoreSettings;
  /** A separate listener for `/metrics` (`metrics_listen`); absent: on the main listener. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** How long requests under way may run on after SIGTERM/SIGINT (`drain_timeout`). */
  readonly drainTimeoutMs: number;
  /** HTTPS on the listener (`tls`); plain HTTP when absent. */
  readonly tls?: ListenerTlsSettings;
  /** How often backends' descriptors are read again (`reload_interval`); 0: never on a timer. */
  readonly reloadIntervalMs: number;
  /** The admin API's listener (`admin_listen`); absent: no admin API. */
  readonly adminListen?: HostPort;
  /** The scope a token needs for the admin API when auth is on (`admin_scope`). */
  readonly adminScope: string;
  /** Request limits per caller and per session (`limits`); absent: none. */
  readonly limits?: LimitSettings;
  /** MCP tasks (`tasks`): lifetime, polling interval, sync window, calls running at once. */
  readonly tasks: TaskSettings;
}

/** `tasks` (extension io.modelcontextprotocol/tasks, docs/tasks.md), milliseconds and a count. */
export interface TaskSettings {
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  readonly syncWindowMs: number;
  readonly maxRunning: number;
}

/** A listen address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `limits`: bounds per caller (token subject, else client address) and per session. */
export interface LimitSettings {
  readonly perCaller?: RequestLimitSettings;
  readonly perSession?: RequestLimitSettings;
}

/** One bound; an absent member means no bound of that kind. */
export interface RequestLimitSettings {
  /** Most requests running at once. */
  readonly maxConcurrent?: number;
  /** Sustained rate, as a token bucket of `burst` tokens refilled at this many per second. */
  readonly rate?: { readonly perSecond: number; readonly burst: number };
}

/** Session bounds (milliseconds and counts). */
export interface SessionSettings {
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  readonly maxBufferedEvents: number;
  /** Replay bytes across all sessions. */
  readonly maxBufferedBytes: number;
  readonly keepAliveMs: number;
  /** Sessions one client (subject or address) may hold. */
  readonly maxSessionsPerClient: number;
  /** How long a silent replica is still taken for alive (shared store). */
  readonly replicaLeaseMs: number;
}

/** Reads and checks `mcpengine.yaml`; relative descriptor paths resolve against the file's folder. */
export async function loadConfigFile(path: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    // A missing file is named by its full path: the path given may be a default, relative to a cwd
    // the reader has to guess.
    if (isErrno(err) && err.code === "ENOENT") {
      throw new ConfigError(resolve(path), "", "no such file", { code: "not_found", cause: err });
    }
    throw new ConfigError(path, "", `cannot read the file: ${messageOf(err)}`, {
      code: "unreadable",
      cause: err,
    });
  }
  return parseConfig(text, { baseDir: dirname(resolve(path)), source: path });
}

/**
 * Parses configuration text (YAML or JSON). `${NAME}` references are replaced by
 * environment variables, so secrets stay out of the file. The document is read
 * as the `mcpengine.v1.Config` message with strict ProtoJSON: unknown keys are errors.
 * Every error is a {@link ConfigError} naming `source` and the key path of the setting.
 */
export function parseConfig(
  text: string,
  opts: { baseDir?: string; source?: string; env?: NodeJS.ProcessEnv } = {},
): GatewayConfig {
  const source = opts.source ?? "config";
  const invalid = (path: string, detail: string, cause?: unknown) =>
    new ConfigError(source, path, detail, { cause });
  let yaml: unknown;
  try {
    yaml = parseYaml(text);
  } catch (err) {
    // The yaml package's message ends in a code frame over several lines; its first line has the position.
    const first = messageOf(err).split("\n")[0]?.replace(/:$/, "");
    throw invalid("", `not valid YAML: ${first}`, err);
  }
  const expanded = interpolate(yaml ?? {}, opts.env ?? process.env);
  if ("problem" in expanded) throw invalid(expanded.problem.path, expanded.problem.detail);
  const doc = readDocument(ConfigSchema, expanded.value);
  if ("problem" in doc) throw invalid(doc.problem.path, doc.problem.detail);
  let msg: Config;
  try {
    msg = fromJson(ConfigSchema, doc.value, { ignoreUnknownFields: false });
  } catch (err) {
    // readDocument checks every key and value against the same descriptor; this is a backstop.
    throw invalid("", messageOf(err), err);
  }
  /** `host:port` (`[v6]:port` too) of the setting at `path`. */
  const address = (path: string, text: string): HostPort => {
    const m = /^(.*):(\d+)$/.exec(text);
    if (!m?.[1] || !m[2]) throw invalid(path, `must be "host:port", got "${text}"`);
    const port = Number(m[2]);
    if (port > 65535) throw invalid(path, `port ${port} is out of range`);
    return { host: m[1].replace(/^\[(.*)\]$/, "$1"), port };
  };
  const { host, port } = address("listen", msg.listen || "127.0.0.1:8080");
  const metricsListen = msg.metricsListen ? address("metrics_listen", msg.metricsListen) : undefined;
  const adminListen = msg.adminListen ? address("admin_listen", msg.adminListen) : undefined;
  const path = msg.path || "/mcp";
  if (!path.startsWith("/")) throw invalid("path", `must start with "/", got "${path}"`);
  if (msg.backends.length === 0) throw invalid("backends", "at least one backend is required");
  const names = new Map<string, number>();
  const backends = msg.backends.map((b, i): BackendConfig => {
    const at = `backends[${i}]`;
    if (!b.name) throw invalid(`${at}.name`, "missing; every backend needs a unique name");
    const first = names.get(b.name);
    if (first !== undefined) {
      throw invalid(`${at}.name`, `duplicate backend name "${b.name}" (also backends[${first}])`);
    }
    names.set(b.name, i);
    if (!/^https?:\/\/[^/]+/.test(b.target)) {
      throw invalid(`${at}.target`, `must be an http:// (h2c) or https:// (TLS) URL, got "${b.target}"`);
    }
    const d = b.descriptors || "reflection";
    const timeoutMs = b.timeout ? durationMs(b.timeout) : 30_000;
    if (timeoutMs <= 0) throw invalid(`${at}.timeout`, "must be positive");
    const mode = b.identity?.mode || (msg.auth ? "forward" : "none");
    if (mode !== "forward" && mode !== "exchange" && mode !== "none") {
      throw invalid(`${at}.identity.mode`, `must be forward, exchange or none, got "${mode}"`);
    }
    if (mode === "exchange" && !b.identity?.exchangeAudience) {
      throw invalid(`${at}.identity.exchange_audience`, "required for mode exchange");
    }
    if (mode !== "none" && !msg.auth) throw invalid(`${at}.identity.mode`, `${mode} needs an auth section`);
    const identity: BackendIdentity = {
      mode,
      ...(b.identity?.exchangeAudience ? { exchangeAudience: b.identity.exchangeAudience } : {}),
      exchangeScopes: b.identity?.exchangeScopes ?? [],
      claims: b.identity?.claims ?? [],
    };
    const connection = connectionSettings(b, at, opts.baseDir ?? ".");
    if ("problem" in connection) throw invalid(connection.problem.path, connection.problem.detail);
    return {
      ...connection.value,
      identity,
      name: b.name,
      target: b.target,
      descriptors:
        d === "reflection" ? { kind: "reflection" } : { kind: "file", path: resolve(opts.baseDir ?? ".", d) },
      protocol: protocolName(b.protocol),
      timeoutMs,
      maxInflight: b.maxInflight || 1_024,
      services: b.services,
    };
  });
  let auth: AuthSettings | undefined;
  if (msg.auth) {
    try {
      auth = authSettings(msg.auth, "auth");
    } catch (err) {
      if (!(err instanceof AuthConfigError)) throw err;
      // authSettings words its messages as "<path>: <detail>", with the path under `auth`.
      const [, at = "auth", detail = err.message] = /^(auth[\w.[\]]*): (.*)$/s.exec(err.message) ?? [];
      throw invalid(at, detail, err);
    }
    const exchanging = backends.findIndex((b) => b.identity.mode === "exchange");
    if (exchanging >= 0 && !(auth.clientId && auth.clientSecret)) {
      throw invalid(
        "auth",
        `client_id and client_secret are required for token exchange (backends[${exchanging}])`,
      );
    }
  }
  if (msg.publicUrl && !/^https?:\/\/[^/]+\/?$/.test(msg.publicUrl)) {
    throw invalid("public_url", `must be scheme://host[:port], got "${msg.publicUrl}"`);
  }
  let stateKey: Uint8Array | undefined;
  if (msg.stateKey) {
    stateKey = Buffer.from(msg.stateKey, "base64");
    if (stateKey.length < 32) throw invalid("state_key", "must be at least 32 bytes of base64");
  }
  const s = msg.sessions;
  const sessions: SessionSettings = {
    idleTimeoutMs: s?.idleTimeout ? durationMs(s.idleTimeout) : 30 * 60_000,
    maxSessions: s?.maxSessions || 10_000,
    maxBufferedEvents: s?.maxBufferedEvents || 1_000,
    maxBufferedBytes: Number(s?.maxBufferedBytes ?? 0) || 256 * 1024 * 1024,
    maxSessionsPerClient: s?.maxSessionsPerClient || 1_000,
    keepAliveMs: s?.keepAlive ? durationMs(s.keepAlive) : 15_000,
    replicaLeaseMs: s?.replicaLease ? durationMs(s.replicaLease) : 15_000,
  };
  if (sessions.replicaLeaseMs < 1_000) throw invalid("sessions.replica_lease", "must be at least 1s");
  if (sessions.idleTimeoutMs <= 0) throw invalid("sessions.idle_timeout", "must be positive");
  const requestTimeoutMs = msg.requestTimeout ? durationMs(msg.requestTimeout) : 30_000;
  if (requestTimeoutMs <= 0) throw invalid("request_timeout", "must be positive");
  if (sessions.keepAliveMs <= 0) throw invalid("sessions.keep_alive", "must be positive");
  const drainTimeoutMs = msg.drainTimeout ? durationMs(msg.drainTimeout) : 10_000;
  if (drainTimeoutMs < 0) throw invalid("drain_timeout", "must not be negative");
  const tls = listenerTlsSettings(msg.tls, opts.baseDir ?? ".");
  if ("problem" in tls) throw invalid(tls.problem.path, tls.problem.detail);
  const store = storeSettings(msg.store);
  if ("problem" in store) throw invalid(store.problem.path, store.problem.detail);
  if (store.value.kind === "redis" && !stateKey) {
    // Replicas seal and open 2026-07-28 requestState: with a random key per process, another replica could not open it.
    throw invalid(
      "state_key",
      "is required with store.redis, so that every replica opens the request state another sealed",
    );
  }
  const reloadIntervalMs = msg.reloadInterval ? durationMs(msg.reloadInterval) : 30_000;
  if (reloadIntervalMs < 0) throw invalid("reload_interval", "must not be negative");
  if (reloadIntervalMs > 0 && reloadIntervalMs < 1_000) {
    throw invalid("reload_interval", 'must be at least 1s (or "0s" to turn it off)');
  }
  const t = msg.tasks;
  const tasks: TaskSettings = {
    ttlMs: t?.ttl ? durationMs(t.ttl) : 60 * 60_000,
    pollIntervalMs: t?.pollInterval ? durationMs(t.pollInterval) : 1_000,
    syncWindowMs: t?.syncWindow ? durationMs(t.syncWindow) : 500,
    maxRunning: t?.maxRunning || 256,
  };
  if (tasks.ttlMs < 1_000) throw invalid("tasks.ttl", "must be at least 1s");
  if (tasks.pollIntervalMs < 1 || !Number.isInteger(tasks.pollIntervalMs)) {
    throw invalid("tasks.poll_interval", "must be a positive whole number of milliseconds");
  }
  if (tasks.syncWindowMs < 0 || tasks.syncWindowMs >= tasks.ttlMs) {
    throw invalid("tasks.sync_window", "must be 0s or more, and shorter than tasks.ttl");
  }
  const limits = msg.limits
    ? {
        ...limitSettings(msg.limits.perCaller, "limits.per_caller", invalid, "perCaller"),
        ...limitSettings(msg.limits.perSession, "limits.per_session", invalid, "perSession"),
      }
    : undefined;
  return {
    ...(auth ? { auth } : {}),
    ...(msg.publicUrl ? { publicUrl: msg.publicUrl } : {}),
    ...(stateKey ? { stateKey } : {}),
    sessions,
    store: store.value,
    drainTimeoutMs,
    ...(tls.value ? { tls: tls.value } : {}),
    allowedHosts: msg.allowedHosts,
    allowedOrigins: msg.allowedOrigins,
    host,
    port,
    path,
    serverName: msg.serverName || "mcpengine",
    maxBodyBytes: msg.maxBodyBytes || 4 * 1024 * 1024,
    maxResultBytes: Number(msg.maxResultBytes) || 16 * 1024 * 1024,
    maxConnections: msg.maxConnections || 1024,
    maxInflight: msg.maxInflight || 4_096,
    requestTimeoutMs,
    ...(metricsListen ? { metricsListen } : {}),
    reloadIntervalMs,
    ...(adminListen ? { adminListen } : {}),
    adminScope: msg.adminScope || "mcpengine.admin",
    ...(limits && (limits.perCaller || limits.perSession) ? { limits } : {}),
    tasks,
    backends,
  };
}

/** One `RequestLimit` as `{ [key]: settings }`, or nothing when it bounds nothing. */
function limitSettings<K extends keyof LimitSettings>(
  limit: RequestLimit | undefined,
  path: string,
  invalid: (path: string, detail: string) => ConfigError,
  key: K,
): { [P in K]?: RequestLimitSettings } {
  if (!limit) return {};
  const perSecond = limit.requestsPerSecond;
  if (!Number.isFinite(perSecond) || perSecond < 0) {
    throw invalid(`${path}.requests_per_second`, "must be a positive number (or 0 for no rate limit)");
  }
  if (limit.burst > 0 && perSecond === 0) {
    throw invalid(`${path}.burst`, "needs requests_per_second");
  }
  const settings: RequestLimitSettings = {
    ...(limit.maxConcurrent > 0 ? { maxConcurrent: limit.maxConcurrent } : {}),
    ...(perSecond > 0
      ? { rate: { perSecond, burst: limit.burst || Math.max(1, Math.ceil(perSecond)) } }
      : {}),
  };
  if (!settings.maxConcurrent && !settings.rate) return {};
  return { [key]: settings } as { [P in K]?: RequestLimitSettings };
}

function durationMs(d: { seconds: bigint; nanos: number }): number {
  return Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

function protocolName(p: ProtoProtocol): BackendProtocol {
  switch (p) {
    case ProtoProtocol.UNSPECIFIED:
    case ProtoProtocol.GRPC:
      return "grpc";
    case ProtoProtocol.CONNECT:
      return "connect";
    case ProtoProtocol.GRPC_WEB:
      return "grpc-web";
  }
}

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && "code" in err;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
