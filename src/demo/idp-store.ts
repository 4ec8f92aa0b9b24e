import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Adapter, AdapterFactory, AdapterPayload } from "oidc-provider";

/** Most records one model keeps; past it the oldest go first (a demo must not grow without bound). */
const MAX_RECORDS = 10_000;

interface Entry {
  readonly payload: AdapterPayload;
  /** Milliseconds since the epoch; none for records that never expire (clients). */
  readonly expiresAt?: number;
}

/**
 * oidc-provider's storage for the demo's identity provider: every model in
 * this process's memory, and client registrations also in `clientsFile` when
 * given. Hosts keep the client a proxy registered (RFC 7591) next to their
 * tokens; a restarted demo that forgot it would meet that client with an error
 * page instead of a login. Tokens, grants and sessions are not kept: after a
 * restart the proxy's refresh fails and it asks for one new login.
 */
export function createIdpStore(clientsFile?: string): AdapterFactory {
  const models = new Map<string, Map<string, Entry>>();
  const clients = clientsFile ? readClients(clientsFile) : new Map<string, Entry>();

  const recordsOf = (model: string) => {
    if (model === "Client") return clients;
    let records = models.get(model);
    if (!records) {
      records = new Map();
      models.set(model, records);
    }
    return records;
  };

  return (model: string): Adapter => {
    const records = recordsOf(model);
    const live = (id: string) => {
      const entry = records.get(id);
      if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
        records.delete(id);
        return undefined;
      }
      return entry;
    };
    const findBy = (field: "uid" | "userCode", value: string) => {
      for (const [id, entry] of records) if (entry.payload[field] === value) return live(id)?.payload;
      return undefined;
    };
    const saved = () => {
      if (model === "Client" && clientsFile) writeClients(clientsFile, clients);
    };
    return {
      async upsert(id, payload, expiresIn) {
        records.delete(id);
        records.set(id, {
          payload,
          ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
        });
        for (const oldest of records.keys()) {
          if (records.size <= MAX_RECORDS) break;
          records.delete(oldest);
        }
        saved();
      },
      async find(id) {
        return live(id)?.payload;
      },
      async findByUid(uid) {
        return findBy("uid", uid);
      },
      async findByUserCode(userCode) {
        return findBy("userCode", userCode);
      },
      async consume(id) {
        const entry = live(id);
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        records.delete(id);
        saved();
      },
      async revokeByGrantId(grantId) {
        for (const [id, entry] of records) if (entry.payload.grantId === grantId) records.delete(id);
      },
    };
  };
}

/** The registrations kept by an earlier run; none when the file is missing or unreadable. */
function readClients(file: string): Map<string, Entry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return new Map();
  }
  const clients = new Map<string, Entry>();
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return clients;
  for (const [id, payload] of Object.entries(parsed)) {
    // Each value was written by writeClients from a payload oidc-provider gave us; the provider
    // validates client metadata again when it loads a client.
    if (typeof payload === "object" && payload !== null)
      clients.set(id, { payload: payload as AdapterPayload });
  }
  return clients;
}

/** Writes the registrations to a temporary file and renames it into place: never half a file. */
function writeClients(file: string, clients: ReadonlyMap<string, Entry>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(
    temp,
    `${JSON.stringify(Object.fromEntries([...clients].map(([id, e]) => [id, e.payload])))}\n`,
    {
      mode: 0o600,
    },
  );
  renameSync(temp, file);
}
