import { type JsonRpcMessage, type Remote, RemoteError, type RemoteOptions } from "../types.js";
import { RemoteRpcError } from "./http.js";
import { createLegacySseRemote } from "./legacy-sse.js";
import { createSessionRemote } from "./session-http.js";

/**
 * JSON-RPC codes with which a 2026-07-28-only server refuses `initialize`: an
 * unknown method, or one of the revision's own errors, which its servers also
 * answer with a 400 (MCP 2026-07-28 basic/transports/streamable-http, "Backward
 * Compatibility": header validation, a missing client capability, an
 * unsupported version). A legacy `initialize` carries none of the revision's
 * headers, so a server that checks them first answers HeaderMismatch.
 */
const STATELESS_REFUSALS = new Set([
  -32601, // MethodNotFound
  -32020, // HeaderMismatch
  -32021, // MissingRequiredClientCapability
  -32022, // UnsupportedProtocolVersion
]);

/** What {@link connectRemote} found out about a server that speaks only 2026-07-28. */
export interface StatelessOnly {
  /** The versions the server named (`error.data.supported`), if it did. */
  readonly supportedVersions: readonly string[];
}

/** The server speaks only the stateless revision (2026-07-28) and no translation was configured. */
export class StatelessOnlyError extends RemoteError {
  constructor(
    readonly found: StatelessOnly,
    status?: number,
  ) {
    super("the server speaks only MCP 2026-07-28 (stateless), which this host does not", status);
  }
}

/** Options of {@link connectRemote}. */
export interface ConnectOptions extends RemoteOptions {
  /** The host's `initialize` request; its answer goes to `onMessage`. */
  readonly hostInitialize: JsonRpcMessage;
  /**
   * The hook for a server that speaks only 2026-07-28: returns the remote to
   * use instead (era translation over a stateless remote). Default: none, and
   * `connectRemote` rejects with {@link StatelessOnlyError}.
   */
  readonly statelessOnly?: (found: StatelessOnly) => Promise<Remote>;
}

/**
 * Opens the remote for a host that sent `initialize`, finding the server's
 * era (MCP 2025-11-25 basic/transports "Backwards Compatibility"): the
 * initialize is POSTed to the URL; a 2xx means Streamable HTTP with sessions.
 * A 400, 404 or 405 means the URL may be a 2024-11-05 HTTP+SSE endpoint, so
 * it is opened with a GET and the initialize sent there. A JSON-RPC "method
 * not found" or "unsupported protocol version" for `initialize` means a
 * 2026-07-28-only server: `statelessOnly` decides. The found era is
 * `remote.era`. Rejects with {@link LoginRequiredError} when a login comes
 * first, else with the session attempt's error.
 */
export async function connectRemote(options: ConnectOptions): Promise<Remote> {
  const log = options.log ?? (() => {});
  const session = createSessionRemote(options);
  let refusal: RemoteError;
  try {
    await session.send(options.hostInitialize);
    log(`${options.url.href} speaks Streamable HTTP with sessions`);
    return session;
  } catch (err) {
    await session.close();
    if (!(err instanceof RemoteError) || !isRefusal(err.status)) throw err;
    refusal = err;
  }

  const stateless = statelessOnly(refusal);
  if (stateless) {
    log(`${options.url.href} speaks only MCP 2026-07-28`);
    if (options.statelessOnly) return options.statelessOnly(stateless);
    throw new StatelessOnlyError(stateless, refusal.status);
  }

  log(`POST ${options.url.href} answered HTTP ${refusal.status}; trying the 2024-11-05 HTTP+SSE transport`);
  const legacy = createLegacySseRemote(options);
  try {
    await legacy.send(options.hostInitialize);
  } catch (err) {
    await legacy.close();
    if (err instanceof RemoteError && err.status !== undefined) {
      // Neither era fits: the first answer says more about why.
      log(`the 2024-11-05 transport failed too: ${err.message}`);
      throw refusal;
    }
    throw err;
  }
  log(`${options.url.href} speaks the 2024-11-05 HTTP+SSE transport`);
  return legacy;
}

/** Statuses with which a server without Streamable HTTP on this URL may refuse the POST. */
function isRefusal(status: number | undefined): boolean {
  return status === 400 || status === 404 || status === 405;
}

/** The sign of a 2026-07-28-only server in a refused initialize, if any. */
function statelessOnly(err: RemoteError): StatelessOnly | undefined {
  if (!(err instanceof RemoteRpcError)) return undefined;
  const { code, data } = err.error;
  if (!STATELESS_REFUSALS.has(code)) return undefined;
  const supported = (data as { supported?: unknown } | undefined)?.supported;
  return {
    supportedVersions: Array.isArray(supported) ? supported.filter((v) => typeof v === "string") : [],
  };
}
