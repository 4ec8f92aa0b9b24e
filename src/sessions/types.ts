import type { JsonObject } from "@bufbuild/protobuf";

/**
 * The state of session-era MCP (2024-11-05 … 2025-11-25) that every replica of
 * the gateway must see, behind three small interfaces: {@link SessionStore}
 * (records), {@link EventLog} (resumable SSE streams) and {@link SessionBus}
 * (messages between replicas); and the records of MCP tasks ({@link TaskStore}),
 * which every era's replicas share. Everything bound to a socket (attached
 * responses, abort controllers, waiting server-to-client requests) stays in the
 * replica that holds the socket. Implementations: in memory (one replica) and
 * Redis (many).
 */

/** A value now, or later: in-memory implementations answer at once, so the hot path skips a microtask. */
export type MaybePromise<T> = T | Promise<T>;

/** A JSON-RPC request id (JSON-RPC 2.0 §4). */
export type RequestId = string | number;

/** The plain, shared data of one session. */
export interface SessionRecord {
  readonly id: string;
  /** `streamable`: Streamable HTTP (2025-03-26 … 2025-11-25); `legacy`: 2024-11-05 HTTP+SSE. */
  readonly era: "streamable" | "legacy";
  /** The negotiated protocol version. */
  readonly version: string;
  /** The token subject of the caller that created it; other callers cannot use it. */
  readonly subject: string | undefined;
  /** Who it counts against for the per-client cap: `sub:<subject>`, else `addr:<address>`. */
  readonly owner: string;
  /** From `initialize` (MCP 2025-11-25 basic/lifecycle "Capability Negotiation"). */
  readonly clientCapabilities: JsonObject;
  /** Minimum level of `notifications/message` (server/utilities/logging). */
  readonly logLevel: string | undefined;
  /** Time of its last request, ms since the epoch. */
  readonly lastSeen: number;
  /**
   * Until when some replica holds it busy (a request in flight, an attached
   * stream), ms since the epoch. A busy session is never closed for room or
   * for idleness; a replica that dies stops renewing, so its hold lapses.
   */
  readonly busyUntil: number;
}

/** Bounds on the number of sessions. */
export interface SessionBounds {
  /** Most sessions over all clients. */
  readonly maxSessions: number;
  /** Most sessions of one owner. */
  readonly maxPerOwner: number;
}

/** The outcome of {@link SessionStore.create}. */
export type CreateResult =
  | { readonly ok: true; readonly evicted: readonly string[] }
  | { readonly ok: false; readonly reason: "client" | "full" };

/** What a session may change after it is created. */
export interface SessionPatch {
  readonly logLevel?: string;
  readonly clientCapabilities?: JsonObject;
}

/** Session records, shared by every replica. */
export interface SessionStore {
  /**
   * Adds `record` within `bounds`. Past the owner's bound, that owner's least
   * recently seen session that is not busy at `now` is deleted first (never
   * another owner's); past the global bound, the least recently seen one that
   * is not busy. Deleted ids are returned so their live state can be dropped;
   * with nothing to delete, the session is refused with the bound that was hit.
   */
  create(record: SessionRecord, bounds: SessionBounds, now: number): Promise<CreateResult>;
  /** The record, with `lastSeen` set to `now`; undefined when it does not exist (deleted, expired, evicted). */
  open(id: string, now: number): MaybePromise<SessionRecord | undefined>;
  /** Sets until when the session is busy: a replica renews it while busy, and sets 0 once idle. */
  hold(id: string, until: number): MaybePromise<void>;
  /** Changes what a session may change; nothing when it does not exist. */
  update(id: string, patch: SessionPatch): Promise<void>;
  /** Deletes a session; false when it did not exist. */
  delete(id: string): Promise<boolean>;
  /** Deletes the sessions not seen for `idleMs` and not busy at `now`, returning their ids. */
  sweep(now: number, idleMs: number): Promise<readonly string[]>;
  /** Sessions that exist. */
  count(): MaybePromise<number>;
}

/** Where a resumable stream comes from. */
export interface StreamOrigin {
  /** The request whose response ends the stream; absent for the standalone GET stream. */
  readonly requestId?: RequestId;
  /** The replica producing its events (see {@link ReplicaRegistry}). */
  readonly replica: string;
}

/** One event of a stream: its sequence number (1, 2, …) and the JSON-RPC message as JSON text. */
export interface LoggedEvent {
  readonly seq: number;
  readonly data: string;
}

/** What {@link EventLog.replay} finds. */
export interface Replay extends StreamOrigin {
  /** Events after the requested sequence number, oldest first (those still kept). */
  readonly events: readonly LoggedEvent[];
  /** The stream has ended: no event will follow the last one. */
  readonly done: boolean;
  /** The highest sequence number given so far (0 before the first event), kept or not. */
  readonly lastSeq: number;
}

/** Bounds of an event log. */
export interface EventLogBounds {
  /** Events kept per stream. */
  readonly maxEvents: number;
  /** Bytes kept per stream; an event larger than this is numbered but not kept. */
  readonly maxStreamBytes: number;
  /** Bytes kept per session over its streams. */
  readonly maxSessionBytes: number;
  /** Bytes kept over all sessions (one replica's share, in memory). */
  readonly maxTotalBytes: number;
  /** Streams kept per session; the oldest ended one goes first. */
  readonly maxStreams: number;
  /** A stream with no new event for this long is forgotten (ms). */
  readonly ttlMs: number;
}

/**
 * Resumable SSE streams (MCP 2025-11-25 basic/transports "Resumability and
 * Redelivery"): each stream of a session numbers its events 1, 2, …; a client
 * reconnecting with `Last-Event-ID` gets, from any replica, the events after it.
 * Replay is best effort within the bounds; memory is bounded.
 */
export interface EventLog {
  /** Starts a stream of a session (ids are unique per session). */
  open(session: string, stream: string, origin: StreamOrigin): MaybePromise<void>;
  /** Appends one message (JSON text) and returns its sequence number. */
  append(session: string, stream: string, data: string): MaybePromise<number>;
  /** No more events on this stream. */
  end(session: string, stream: string): MaybePromise<void>;
  /** The stream's events after `afterSeq` and its state; undefined when the stream is not (or no longer) known. */
  replay(session: string, stream: string, afterSeq: number): MaybePromise<Replay | undefined>;
  /** Forgets every stream of a session. */
  drop(session: string): Promise<void>;
}

/** A message between replicas about one session. */
export type BusMessage =
  /** An event appended to one of the session's streams, for a replica relaying that stream. */
  | { readonly kind: "event"; readonly stream: string; readonly seq: number; readonly data: string }
  /** A stream ended. */
  | { readonly kind: "end"; readonly stream: string }
  /** `notifications/cancelled` for a request, wherever it runs (basic/utilities/cancellation). */
  | { readonly kind: "cancel"; readonly requestId: RequestId; readonly reason: string }
  /** The client's response to a server-to-client request, for the replica waiting on it. */
  | { readonly kind: "answer"; readonly id: RequestId; readonly response: JsonObject }
  /** A message for the session's standalone stream (or the 2024-11-05 stream), for whichever replica holds it. */
  | { readonly kind: "notify"; readonly data: string }
  /** `resources/unsubscribe`, for the replica running the watch (server/resources "Subscriptions"). */
  | { readonly kind: "unsubscribe"; readonly uri: string; readonly by: string }
  /** A client attached a connection to a stream on replica `by`: other replicas end theirs. */
  | { readonly kind: "attached"; readonly stream: string; readonly by: string }
  /** The session was closed (DELETE, idle, evicted): drop its live state. */
  | { readonly kind: "closed" }
  /**
   * On a task's channel (`task:<id>`, see {@link taskChannel}): the task's
   * record changed (a status, an answer, a cancellation); read it again.
   */
  | { readonly kind: "task" };

/** Publish/subscribe per session between replicas; delivery is at most once, in order per publisher. */
export interface SessionBus {
  publish(session: string, message: BusMessage): MaybePromise<void>;
  /** Receives the session's messages until the returned function is called; resolves once subscribed. */
  subscribe(session: string, handler: (message: BusMessage) => void): MaybePromise<() => void>;
}

/** Which replicas are alive: each renews a lease; a replica whose lease lapsed is gone. */
export interface ReplicaRegistry {
  /** Renews this replica's lease until `until` (ms since the epoch). */
  renew(replica: string, until: number): MaybePromise<void>;
  /** Whether the replica's lease holds at `now`. */
  alive(replica: string, now: number): MaybePromise<boolean>;
  /** Ends this replica's lease at once (graceful shutdown). */
  retire(replica: string): MaybePromise<void>;
}

/** A task's status (SEP-2663 "Task Status"); the last three are terminal. */
export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/**
 * The shared record of one MCP task (extension io.modelcontextprotocol/tasks,
 * SEP-2663), as every replica reads and writes it. Plain JSON: times are ms
 * since the epoch; the wire form (ISO timestamps) is made in src/mcp/tasks.
 */
export interface TaskRecord {
  /** The task id: unguessable (random, 128 bits or more), the key of the record. */
  readonly id: string;
  /** Who may see and change it (`sub:<subject>` with auth); every other caller is told it does not exist. */
  readonly owner: string;
  /** What drives its state (`local`: a run on the replica named in `replica`); see src/mcp/tasks/types.ts. */
  readonly kind: string;
  readonly status: TaskStatus;
  readonly statusMessage?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Lifetime from `createdAt`, ms: the record is gone after it. */
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  /** `input_required`: the requests still unanswered, by key (SEP-2322 InputRequests). */
  readonly inputRequests?: JsonObject;
  /** Answers received (tasks/update) and not yet taken by the run, by key. */
  readonly inputResponses?: JsonObject;
  /** `completed`: the result of the request, as it would have been answered synchronously. */
  readonly result?: JsonObject;
  /** `failed`: the JSON-RPC error (`code`, `message`, `data`). */
  readonly error?: JsonObject;
  /** The replica running it, for kinds that run somewhere. */
  readonly replica?: string;
  /** What the kind needs to find its work again (e.g. an operation's name); opaque to the store. */
  readonly source?: JsonObject;
  /** Bumped by one on every write: the compare in {@link TaskStore.compareAndSet}. */
  readonly version: number;
}

/**
 * Task records shared by every replica: any replica answers tasks/get,
 * tasks/update and tasks/cancel. A record lives `ttlMs` from its creation and
 * is then gone (SEP-2663 "ttlMs": the server may discard the task after it).
 * Writes are compare-and-set on `version`, so two replicas changing a task at
 * once (a cancel racing the result) cannot both win.
 */
export interface TaskStore {
  /** Adds a task (its `version` is usually 0); false when the id is taken. Resolves once any replica can read it. */
  create(record: TaskRecord): MaybePromise<boolean>;
  /** The record; undefined when it never existed or expired. */
  get(id: string): MaybePromise<TaskRecord | undefined>;
  /**
   * Replaces the record with `next` (same id) when its stored `version` is
   * still `version`; false when another write came first or the task is gone.
   * The expiry stays the one set at creation.
   */
  compareAndSet(version: number, next: TaskRecord): MaybePromise<boolean>;
}

/** The bus channel of a task: {@link SessionBus} carries `{ kind: "task" }` on it to every replica. */
export function taskChannel(id: string): string {
  return `task:${id}`;
}

/** The shared state of one gateway: one backend (memory or Redis) behind every interface. */
export interface SharedState {
  readonly kind: "memory" | "redis";
  readonly sessions: SessionStore;
  /** MCP tasks (extension io.modelcontextprotocol/tasks). */
  readonly tasks: TaskStore;
  readonly events: EventLog;
  readonly bus: SessionBus;
  readonly replicas: ReplicaRegistry;
  /** Whether the backing service answers (always, in memory). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
