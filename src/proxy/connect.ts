import { META } from "./protocol.js";
import { connectRemote, createStatelessRemote } from "./remote/index.js";
import { sessionOverStateless } from "./session-over-stateless.js";
import { statelessOverSession } from "./stateless-over-session.js";
import {
  type AuthSource,
  type JsonRpcMessage,
  LoginRequiredError,
  type Remote,
  RemoteError,
} from "./types.js";

/** What opening the remote needs, whatever the host's era. */
export interface ConnectContext {
  readonly url: URL;
  readonly auth: AuthSource;
  readonly log: (message: string) => void;
  /** The proxy's own identity, as the client of a session it opens for a 2026-07-28 host. */
  readonly info: { readonly name: string; readonly version: string };
}

/** How long a 2026-07-28 probe of the server may take before the session eras are tried. */
const PROBE_MS = 10_000;

/**
 * Opens the remote for a session-era host's `initialize`: Streamable HTTP
 * with sessions, else 2024-11-05 HTTP+SSE, else — for a server that speaks
 * only 2026-07-28 — the session era bridged onto it.
 */
export function connectForSessionHost(
  ctx: ConnectContext,
  initialize: JsonRpcMessage,
  onMessage: (m: JsonRpcMessage) => void,
): Promise<Remote> {
  const common = common_(ctx);
  return connectRemote({
    ...common,
    onMessage,
    hostInitialize: initialize,
    statelessOnly: () =>
      sessionOverStateless({
        initialize,
        onMessage,
        log: ctx.log,
        open: (clientCapabilities, fromServer) =>
          createStatelessRemote({
            ...common,
            onMessage: fromServer,
            protocolVersion: "2026-07-28",
            clientCapabilities,
          }),
      }),
  });
}

/**
 * Opens the remote for a 2026-07-28 host (no initialize; its first message
 * carries its capabilities in `_meta`): the server is asked `server/discover`
 * as 2026-07-28; if it answers, messages pass through; if it refuses the
 * revision, a session is opened for the host (see {@link statelessOverSession}).
 * The host's first message is not sent here.
 */
export async function connectForStatelessHost(
  ctx: ConnectContext,
  first: JsonRpcMessage,
  onMessage: (m: JsonRpcMessage) => void,
): Promise<Remote> {
  const common = common_(ctx);
  const meta = ((first.params as { _meta?: { [k: string]: unknown } } | undefined)?._meta ?? {}) as {
    [k: string]: unknown;
  };
  const clientCapabilities = (meta[META.clientCapabilities] ?? {}) as { [k: string]: unknown };
  const probeId = "mcpengine-proxy-discover";
  let answered: (m: JsonRpcMessage) => void = () => {};
  const probe = new Promise<JsonRpcMessage | undefined>((resolve) => {
    answered = resolve;
    setTimeout(() => resolve(undefined), PROBE_MS).unref();
  });
  const direct = createStatelessRemote({
    ...common,
    onMessage: (m) => {
      if (m.id === probeId && m.method === undefined) return answered(m);
      onMessage(m);
    },
    protocolVersion: "2026-07-28",
    clientCapabilities,
    clientInfo: (meta[META.clientInfo] as { name: string; version: string } | undefined) ?? ctx.info,
  });
  try {
    await direct.send({ jsonrpc: "2.0", id: probeId, method: "server/discover", params: {} });
    const answer = await probe;
    if (answer && "result" in answer) return direct;
  } catch (err) {
    // Only an HTTP 4xx refusal says the server does not speak 2026-07-28 (basic/versioning); a
    // login to run, a network failure or an OAuth error is the caller's to see.
    if (err instanceof LoginRequiredError || !(err instanceof RemoteError)) throw err;
    if (err.status === undefined || err.status < 400 || err.status > 499) throw err;
    ctx.log(`${ctx.url.origin} does not speak 2026-07-28 (${err.message}); opening a session`);
  }
  await direct.close();
  return statelessOverSession({
    first,
    onMessage,
    info: ctx.info,
    open: (initialize, fromServer) =>
      connectRemote({ ...common, onMessage: fromServer, hostInitialize: initialize }),
  });
}

function common_(ctx: ConnectContext) {
  return {
    url: ctx.url,
    auth: ctx.auth,
    log: ctx.log,
    onError: (err: Error) => ctx.log(`connection to ${ctx.url.origin} failed: ${err.message}`),
  };
}
