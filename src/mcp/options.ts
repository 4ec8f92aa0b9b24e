import type { BackendHeaders } from "./call-context.js";
import type { Catalog } from "./catalog-view.js";
import type { TaskOptions } from "./tasks/index.js";

/** Server identity reported in `initialize` and `server/discover` (MCP 2025-11-25 basic/lifecycle "Initialization"). */
export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly title?: string;
}

/** Options of {@link createMcpServer}. */
export interface McpServerOptions extends Catalog {
  readonly info: ServerInfo;
  readonly instructions?: string;
  /** Enforce the scopes declared in proto (auth on). */
  readonly enforceScopes?: boolean;
  /** Request metadata for a backend call on behalf of the caller (identity, tokens). */
  readonly backendHeaders?: BackendHeaders;
  /** Items per page of list results (default 100). */
  readonly pageSize?: number;
  /** Key for sealing input-required request state (random per process when absent). */
  readonly stateKey?: Uint8Array;
  /** Rounds of input requests one session-era call (or one task) may go through (default 8). */
  readonly maxInputRounds?: number;
  /** MCP tasks (extension io.modelcontextprotocol/tasks): store, bus, limits; in memory by default. */
  readonly tasks?: TaskOptions;
}
