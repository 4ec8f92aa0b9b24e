import { afterEach, describe } from "vitest";
import type { EventLogBounds, SessionRecord, SharedState } from "../../src/sessions/index.js";
import { busContract } from "./contract-bus.js";
import { eventLogContract } from "./contract-events.js";
import { sessionStoreContract } from "./contract-sessions.js";
import { taskStoreContract } from "./contract-tasks.js";

/** What a test may ask of a new shared state. */
export interface MakeOptions {
  readonly bounds?: Partial<EventLogBounds>;
  readonly onHandlerError?: (error: unknown) => void;
}

/** Options of {@link describeSharedStateContract}. */
export interface ContractOptions {
  /**
   * Another shared state on the same backing store as `state`: a second
   * replica. Absent in memory, where nothing is shared between instances.
   */
  readonly replicaOf?: (state: SharedState, options?: MakeOptions) => Promise<SharedState>;
  /** Whether `maxTotalBytes` is enforced (one replica's share, in memory only). */
  readonly boundsTotalBytes: boolean;
}

/** A fresh, isolated shared state (an empty store), closed after the test. */
export type Make = (options?: MakeOptions) => Promise<SharedState>;

/** What each part of the contract receives. */
export interface Contract {
  readonly make: Make;
  readonly opts: ContractOptions;
}

/** Bounds roomy enough that a test meets only the one it lowers. */
export const DEFAULT_BOUNDS: EventLogBounds = {
  maxEvents: 100,
  maxStreamBytes: 10_000,
  maxSessionBytes: 100_000,
  maxTotalBytes: 1_000_000,
  maxStreams: 16,
  ttlMs: 60_000,
};

/** A realistic clock reading, so TTLs computed from it are sane in Redis. */
export const T = 1_700_000_000_000;

/** A session record with defaults; `lastSeen` is `T + at`. */
export function rec(
  id: string,
  owner: string,
  at: number,
  extra: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    id,
    era: "streamable",
    version: "2025-11-25",
    subject: undefined,
    owner,
    clientCapabilities: {},
    logLevel: undefined,
    lastSeen: T + at,
    busyUntil: 0,
    ...extra,
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check` holds, polling; fails after `ms` naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 3_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The behaviour every implementation of the shared state must have, run
 * against each of them: session records with bounds and eviction, resumable
 * event logs with numbering and bounds, the bus, replica leases, task records.
 */
export function describeSharedStateContract(
  name: string,
  make: (options: MakeOptions) => Promise<SharedState>,
  opts: ContractOptions,
): void {
  describe(`shared state contract: ${name}`, () => {
    const open: SharedState[] = [];
    const tracked: Make = async (options = {}) => {
      const state = await make(options);
      open.push(state);
      return state;
    };
    const trackedOpts: ContractOptions = {
      ...opts,
      ...(opts.replicaOf
        ? {
            replicaOf: async (state, options) => {
              const replica = await opts.replicaOf?.(state, options);
              if (!replica) throw new Error("replicaOf returned nothing");
              open.push(replica);
              return replica;
            },
          }
        : {}),
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    const contract: Contract = { make: tracked, opts: trackedOpts };
    sessionStoreContract(contract);
    eventLogContract(contract);
    busContract(contract);
    taskStoreContract(contract);
  });
}
