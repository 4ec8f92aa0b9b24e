import type { JsonObject, JsonValue, Registry } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { LogLevel } from "./content.js";
import type { InflightLimit } from "./inflight.js";
import type { InputRequired } from "./input.js";
import type { ArgumentValidator } from "./validate.js";

/** A backend as the invoker sees it. */
export interface BackendHandle {
  readonly name: string;
  readonly transport: Transport;
  readonly registry: Registry;
  /** Deadline of every call in milliseconds, sent as `grpc-timeout`. */
  readonly timeoutMs: number;
  readonly validator: ArgumentValidator;
  /** Largest result collected from a server-streaming RPC, in bytes of JSON (default 16 MiB). */
  readonly maxResultBytes?: number;
  /** Bounds on calls in flight this backend's calls count against (its own, the gateway's). */
  readonly limits?: readonly InflightLimit[];
}

/** Progress reported while a call runs (MCP basic/utilities/progress). */
export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

/** Per-call context: cancellation, metadata, answers to input requests and streaming callbacks. */
export interface CallContext {
  readonly signal?: AbortSignal;
  /** Extra request metadata (identity, request ids). */
  readonly headers?: { readonly [key: string]: string };
  /**
   * Deadline of the call in ms, instead of the backend's `timeoutMs`: a call
   * run as an MCP task may last as long as the task does (its TTL).
   */
  readonly timeoutMs?: number;
  /** Answers to the backend's previous `InputRequired`, sent as `mcpengine-input-bin`. */
  readonly input?: { readonly responses: { [key: string]: JsonObject }; readonly state: Uint8Array };
  /** Progress of a server-streaming RPC: a `Progress` event, or one per plain message. */
  readonly onProgress?: (update: ProgressUpdate) => void;
  /** A `LogMessage` event of a server-streaming RPC. */
  readonly onLog?: (level: LogLevel, logger: string | undefined, data: JsonValue) => void;
  /** The name of the long-running operation (AIP-151) the call started, once known and not yet done. */
  readonly onOperation?: (name: string) => void;
  /**
   * Asked when the call is aborted while its operation runs: true leaves the operation running
   * (another replica takes it over), else it is cancelled (CancelOperation). Default: cancel.
   */
  readonly keepOperation?: () => boolean;
}

/** A call either completes or needs input first (MCP 2026-07-28 basic/utilities/mrtr). */
export type Outcome<T> = { readonly done: T } | { readonly input: InputRequired };
