import type { ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { LogLevel } from "../invoke/index.js";
import type { RequestId, SessionHooks } from "../mcp/index.js";
import type { SessionRecord, SharedState } from "../sessions/types.js";
import type { Tail } from "./maybe-promise.js";
import type { SessionLimits } from "./session-limits.js";
import type { SseConnection } from "./sse-connection.js";

/** A server-to-client request asked from this replica, awaiting the client's answer. */
export interface Pending {
  resolve(result: JsonObject): void;
  reject(err: Error): void;
}

/** A connection attached on this replica to one stream of a session. */
export interface Attachment {
  conn: SseConnection | undefined;
  /** The last event written to it. */
  lastSeq: number;
  /** Events (and the end) that arrived while it was being replayed. */
  queue: ({ seq: number; data: string } | "end")[] | undefined;
  /** Checks on a producer running on another replica. */
  watch: NodeJS.Timeout | undefined;
}

/**
 * What this replica holds of one session: everything bound to its sockets and
 * timers. The shared part is the {@link SessionRecord} in the store.
 */
export interface LiveSession {
  readonly id: string;
  readonly version: string;
  readonly era: SessionRecord["era"];
  readonly subject: string | undefined;
  clientCapabilities: JsonObject;
  logLevel: LogLevel | undefined;
  /** Requests running here, by id, for notifications/cancelled. */
  readonly inflight: Map<RequestId, AbortController>;
  /** Server-to-client requests asked from here, awaiting the client's answer. */
  readonly pending: Map<RequestId, Pending>;
  /** Resource watches running here: URI → abort. */
  readonly subscriptions: Map<string, AbortController>;
  /** Streams whose events this replica produces (requests answered as SSE). */
  readonly producing: Set<string>;
  /** Connections attached here, by stream. */
  readonly attached: Map<string, Attachment>;
  /** The 2024-11-05 SSE connection, when it is held here. */
  legacyRes: ServerResponse | undefined;
  readonly hooks: SessionHooks;
  /** Until when this replica holds the session busy in the store. */
  heldUntil: number;
  /** When a request of the session last reached this replica (ms since the epoch). */
  lastUsed: number;
  /** The order of this replica's appends to the standalone stream (it goes with the live state). */
  readonly standaloneTail: Tail;
  unsubscribe: (() => void) | undefined;
  closed: boolean;
}

/**
 * What the parts of the session service (session-service.ts) share: the
 * shared state, this replica, and the hold it keeps on a session while
 * something of it is live here.
 */
export interface SessionContext {
  readonly state: SharedState;
  readonly limits: SessionLimits;
  /** This replica's id. */
  readonly me: string;
  /** This replica's short tag: ids it makes (streams, client requests) are unique across replicas. */
  readonly tag: string;
  /** Marks the session busy in the store while something is live here (never closed for room or idleness). */
  hold(live: LiveSession): void;
  /** Lets go of the session once nothing is live here: no hold, and no local state at all when unused. */
  release(live: LiveSession): void;
}
