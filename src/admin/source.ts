/**
 * What the admin API reads and does, as a narrow seam: the gateway satisfies it
 * as it is (see `Gateway` in src/gateway.ts), and a test passes a plain object.
 * The shapes are structural so this layer imports nothing from the layers above.
 */
export interface AdminSource {
  /** Each configured backend, in configuration order. */
  backends(): readonly AdminBackend[];
  /** The tools of the catalog being served. */
  readonly tools: readonly AdminTool[];
  /** Resources, resource templates and prompts of the catalog being served. */
  readonly surface: AdminSurface;
  /** Counters of this replica's HTTP endpoints. */
  readonly http: AdminCounters;
  /** When the catalog being served was swapped in. */
  readonly catalogLoadedAt: Date;
  /** Reads the descriptors (and configuration) again; never rejects for an expected failure. */
  reload(): Promise<AdminReloadOutcome>;
}

/** One backend's state. */
export interface AdminBackend {
  readonly name: string;
  readonly target: string;
  readonly ready: boolean;
  readonly tools: number;
  /** Why it is not ready. */
  readonly error?: string;
}

/** One tool and the RPC behind it (`method` is a protobuf-es `DescMethod` in the gateway). */
export interface AdminTool {
  readonly name: string;
  readonly backend: string;
  readonly method: { readonly name: string; readonly parent: { readonly typeName: string } };
}

/** The parts of the catalog's surface the admin API lists. */
export interface AdminSurface {
  readonly resources: readonly { readonly uri: string }[];
  readonly templates: readonly { readonly uriTemplate: string }[];
  readonly prompts: readonly { readonly name: string }[];
}

/** Counts, never contents: the admin API does not show what a session holds. */
export interface AdminCounters {
  sessionCount(): number;
  streamCount(): number;
  /** Bytes kept for resumption; `undefined` when a shared store keeps them. */
  replayBytes(): number | undefined;
  running(): number;
}

/** What a reload did. */
export interface AdminReloadOutcome {
  readonly changed: boolean;
  readonly tools: number;
  readonly error?: string;
}
