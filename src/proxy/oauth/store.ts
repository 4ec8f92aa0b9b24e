/**
 * Where the proxy keeps what a login produced, per MCP server: the
 * authorization server's issuer, the client registration there, and the
 * tokens. One JSON file per server under `<home>/oauth/`, the folder 0700 and
 * the file 0600, always replaced whole (temporary file + rename) so that
 * another proxy process never reads half a file.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** How the client authenticates at the token endpoint (RFC 7591 §2). */
export type TokenEndpointAuth = "client_secret_basic" | "client_secret_post" | "none";

/** How the client got its identity (MCP authorization, "Client Registration"). */
export type RegistrationKind = "preregistered" | "metadata-document" | "dynamic";

/** A client identity at one authorization server, in RFC 7591 names. */
export interface ClientRegistration {
  readonly kind: RegistrationKind;
  readonly client_id: string;
  readonly client_secret?: string;
  readonly token_endpoint_auth_method: TokenEndpointAuth;
  /** The redirect URIs registered (dynamic registrations). */
  readonly redirect_uris?: readonly string[];
  /** When the secret expires, epoch seconds; 0 or absent: never (RFC 7591 §3.2.1). */
  readonly client_secret_expires_at?: number;
}

/**
 * Tokens from one grant. Field names are the OAuth wire names (RFC 6749 §5.1)
 * where there is one; times are epoch seconds (`expires_at` from `expires_in`).
 */
export interface StoredTokens {
  readonly access_token: string;
  readonly refresh_token?: string;
  /** The scopes granted, space-separated, when the server said. */
  readonly scope?: string;
  /** When the access token expires, when the server said how long it lasts. */
  readonly expires_at?: number;
  readonly obtained_at: number;
  /** The client the tokens were issued to: a refresh must come from the same one. */
  readonly client_id: string;
}

/** Everything stored for one MCP server. */
export interface StoredRecord {
  readonly version: 1;
  readonly server_url: string;
  /** The authorization server the registration and tokens belong to. */
  readonly issuer: string;
  readonly resource_metadata?: string;
  readonly client?: ClientRegistration;
  readonly tokens?: StoredTokens;
}

/** The store of one MCP server. */
export interface Store {
  /** The record's file. */
  readonly file: string;
  /** The login lock's file (see `lock.ts`). */
  readonly lockFile: string;
  /** The record, or undefined when there is none or it cannot be read. */
  read(): Promise<StoredRecord | undefined>;
  /** Replaces the record atomically. */
  write(record: StoredRecord): Promise<void>;
  /** Forgets the record. */
  remove(): Promise<void>;
}

/** The token store root: `MCPENGINE_HOME`, else `~/.mcpengine`. */
export function defaultHome(): string {
  return process.env.MCPENGINE_HOME || join(homedir(), ".mcpengine");
}

/** The file name of a server's record: readable host and port, plus a hash of the whole URL. */
export function recordName(serverUrl: URL): string {
  const hash = createHash("sha256").update(serverUrl.href).digest("hex").slice(0, 16);
  const host = `${serverUrl.hostname}${serverUrl.port ? `_${serverUrl.port}` : ""}`.replace(/[^\w.-]/g, "_");
  return `${host}-${hash}`;
}

/** The store for `serverUrl` under `home`. */
export function createStore(home: string, serverUrl: URL): Store {
  const dir = join(home, "oauth");
  const base = join(dir, recordName(serverUrl));
  const file = `${base}.json`;

  async function ensureDir(): Promise<void> {
    // Folders created here are 0700. An existing `home` is the user's choice and left
    // alone; the `oauth` folder is ours and holds secrets, so it is tightened.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }

  return {
    file,
    lockFile: `${base}.lock`,
    async read() {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        return undefined;
      }
      try {
        const value: unknown = JSON.parse(text);
        return isStoredRecord(value) && value.server_url === serverUrl.href ? value : undefined;
      } catch {
        return undefined;
      }
    },
    async write(record) {
      await ensureDir();
      const temp = `${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      const handle = await open(temp, "wx", 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },
    async remove() {
      await rm(file, { force: true });
    },
  };
}

/** Whether the access token is missing, expired, or expires within `skewSeconds`. */
export function expiresWithin(tokens: StoredTokens, skewSeconds: number, now = Date.now()): boolean {
  return tokens.expires_at !== undefined && tokens.expires_at - skewSeconds <= now / 1000;
}

/** The granted scopes as a list. */
export function grantedScopes(tokens: StoredTokens | undefined): string[] {
  return tokens?.scope?.split(" ").filter((s) => s !== "") ?? [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const optional = (v: unknown, type: "string" | "number") => v === undefined || typeof v === type;

function isRegistration(v: unknown): v is ClientRegistration {
  return (
    isObject(v) &&
    (v.kind === "preregistered" || v.kind === "metadata-document" || v.kind === "dynamic") &&
    typeof v.client_id === "string" &&
    optional(v.client_secret, "string") &&
    (v.token_endpoint_auth_method === "client_secret_basic" ||
      v.token_endpoint_auth_method === "client_secret_post" ||
      v.token_endpoint_auth_method === "none") &&
    (v.redirect_uris === undefined ||
      (Array.isArray(v.redirect_uris) && v.redirect_uris.every((u) => typeof u === "string"))) &&
    optional(v.client_secret_expires_at, "number")
  );
}

function isTokens(v: unknown): v is StoredTokens {
  return (
    isObject(v) &&
    typeof v.access_token === "string" &&
    optional(v.refresh_token, "string") &&
    optional(v.scope, "string") &&
    optional(v.expires_at, "number") &&
    typeof v.obtained_at === "number" &&
    typeof v.client_id === "string"
  );
}

/** Whether `v` is a record this version wrote (anything else is ignored, never trusted). */
export function isStoredRecord(v: unknown): v is StoredRecord {
  return (
    isObject(v) &&
    v.version === 1 &&
    typeof v.server_url === "string" &&
    typeof v.issuer === "string" &&
    optional(v.resource_metadata, "string") &&
    (v.client === undefined || isRegistration(v.client)) &&
    (v.tokens === undefined || isTokens(v.tokens))
  );
}
