import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import { ConfigSchema, BackendProtocol as ProtoProtocol } from "../../gen/es/mcpengine/v1/config_pb.js";
import { type AuthSettings, authSettings } from "../auth/index.js";
import type { BackendProtocol } from "../invoke/index.js";

/** A backend after defaults are applied. */
export interface BackendConfig {
  readonly name: string;
  readonly target: string;
  /** `reflection`, or an absolute path to a FileDescriptorSet / buf image. */
  readonly descriptors: { kind: "reflection" } | { kind: "file"; path: string };
  readonly protocol: BackendProtocol;
  readonly timeoutMs: number;
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
}

/** Session bounds (milliseconds and counts). */
export interface SessionSettings {
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  readonly maxBufferedEvents: number;
  readonly keepAliveMs: number;
}

/** A configuration problem, with the place it was found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const PROTOCOLS: Record<string, string> = {
  grpc: "BACKEND_PROTOCOL_GRPC",
  connect: "BACKEND_PROTOCOL_CONNECT",
  "grpc-web": "BACKEND_PROTOCOL_GRPC_WEB",
};

/** Reads and checks `mcpengine.yaml`; relative descriptor paths resolve against the file's folder. */
export async function loadConfigFile(path: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, { baseDir: dirname(resolve(path)), source: path });
}

/**
 * Parses configuration text (YAML or JSON). `${NAME}` references are replaced by
 * environment variables, so secrets stay out of the file. The document is read
 * as the `mcpengine.v1.Config` message with strict ProtoJSON: unknown keys are errors.
 */
export function parseConfig(
  text: string,
  opts: { baseDir?: string; source?: string; env?: NodeJS.ProcessEnv } = {},
): GatewayConfig {
  const source = opts.source ?? "config";
  const env = opts.env ?? process.env;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  doc = interpolate(doc ?? {}, env, source);
  normalizeProtocols(doc);
  let msg: ReturnType<typeof fromJson<typeof ConfigSchema>>;
  try {
    msg = fromJson(ConfigSchema, doc as JsonValue, { ignoreUnknownFields: false });
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`);
  }
  const listen = msg.listen || "127.0.0.1:8080";
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m?.[1] || !m[2]) throw new ConfigError(`${source}: listen must be "host:port", got "${listen}"`);
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`${source}: listen port ${port} is out of range`);
  const path = msg.path || "/mcp";
  if (!path.startsWith("/")) throw new ConfigError(`${source}: path must start with "/"`);
  if (msg.backends.length === 0) throw new ConfigError(`${source}: at least one backend is required`);
  const names = new Set<string>();
  const backends = msg.backends.map((b, i): BackendConfig => {
    const where = `${source}: backends[${i}]`;
    if (!b.name) throw new ConfigError(`${where}: name is required`);
    if (names.has(b.name)) throw new ConfigError(`${where}: duplicate backend name "${b.name}"`);
    names.add(b.name);
    if (!/^https?:\/\/[^/]+/.test(b.target)) {
      throw new ConfigError(
        `${where}: target must be an http:// (h2c) or https:// (TLS) URL, got "${b.target}"`,
      );
    }
    const d = b.descriptors || "reflection";
    const timeoutMs = b.timeout
      ? Number(b.timeout.seconds) * 1000 + Math.round(b.timeout.nanos / 1e6)
      : 30_000;
    if (timeoutMs <= 0) throw new ConfigError(`${where}: timeout must be positive`);
    const mode = b.identity?.mode || (msg.auth ? "forward" : "none");
    if (mode !== "forward" && mode !== "exchange" && mode !== "none") {
      throw new ConfigError(`${where}.identity.mode: must be forward, exchange or none, got "${mode}"`);
    }
    if (mode === "exchange" && !b.identity?.exchangeAudience) {
      throw new ConfigError(`${where}.identity.exchange_audience: required for mode exchange`);
    }
    if (mode !== "none" && !msg.auth)
      throw new ConfigError(`${where}.identity.mode: ${mode} needs an auth section`);
    const identity: BackendIdentity = {
      mode,
      ...(b.identity?.exchangeAudience ? { exchangeAudience: b.identity.exchangeAudience } : {}),
      exchangeScopes: b.identity?.exchangeScopes ?? [],
      claims: b.identity?.claims ?? [],
    };
    return {
      identity,
      name: b.name,
      target: b.target,
      descriptors:
        d === "reflection" ? { kind: "reflection" } : { kind: "file", path: resolve(opts.baseDir ?? ".", d) },
      protocol: protocolName(b.protocol),
      timeoutMs,
      services: b.services,
    };
  });
  let auth: AuthSettings | undefined;
  if (msg.auth) {
    try {
      auth = authSettings(msg.auth, `${source}: auth`);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    if (backends.some((b) => b.identity.mode === "exchange") && !(auth.clientId && auth.clientSecret)) {
      throw new ConfigError(
        `${source}: auth.client_id and auth.client_secret are required for token exchange`,
      );
    }
  }
  if (msg.publicUrl && !/^https?:\/\/[^/]+\/?$/.test(msg.publicUrl)) {
    throw new ConfigError(`${source}: public_url must be scheme://host[:port], got "${msg.publicUrl}"`);
  }
  let stateKey: Uint8Array | undefined;
  if (msg.stateKey) {
    stateKey = Buffer.from(msg.stateKey, "base64");
    if (stateKey.length < 32)
      throw new ConfigError(`${source}: state_key must be at least 32 bytes of base64`);
  }
  const s = msg.sessions;
  const sessions: SessionSettings = {
    idleTimeoutMs: s?.idleTimeout ? durationMs(s.idleTimeout) : 30 * 60_000,
    maxSessions: s?.maxSessions || 10_000,
    maxBufferedEvents: s?.maxBufferedEvents || 1_000,
    keepAliveMs: s?.keepAlive ? durationMs(s.keepAlive) : 15_000,
  };
  if (sessions.idleTimeoutMs <= 0 || sessions.keepAliveMs <= 0) {
    throw new ConfigError(`${source}: sessions.idle_timeout and sessions.keep_alive must be positive`);
  }
  return {
    ...(auth ? { auth } : {}),
    ...(msg.publicUrl ? { publicUrl: msg.publicUrl } : {}),
    ...(stateKey ? { stateKey } : {}),
    sessions,
    allowedHosts: msg.allowedHosts,
    allowedOrigins: msg.allowedOrigins,
    host,
    port,
    path,
    serverName: msg.serverName || "mcpengine",
    maxBodyBytes: msg.maxBodyBytes || 4 * 1024 * 1024,
    backends,
  };
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

/** Accepts the short protocol names (`grpc`, `connect`, `grpc-web`) besides the enum names. */
function normalizeProtocols(doc: unknown): void {
  if (typeof doc !== "object" || doc === null) return;
  const backends = (doc as { backends?: unknown }).backends;
  if (!Array.isArray(backends)) return;
  for (const b of backends) {
    if (typeof b === "object" && b !== null && typeof b.protocol === "string" && PROTOCOLS[b.protocol]) {
      b.protocol = PROTOCOLS[b.protocol];
    }
  }
}

/** Replaces `${NAME}` in every string; an unset variable is an error, not an empty string. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, source: string): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(`${source}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, source));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, source)]));
  }
  return value;
}
