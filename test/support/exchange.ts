import type { Era, Exchange, SessionHooks } from "../../src/mcp/index.js";

/** Session hooks that remember nothing: the session a core test's session-era request belongs to. */
const QUIET_SESSION: SessionHooks = {
  logLevel: undefined,
  setLogLevel: () => {},
  subscribe: () => ({ signal: new AbortController().signal, end: () => {} }),
  unsubscribe: () => {},
  notify: () => {},
};

/**
 * An exchange of `era` with no caller, no client capabilities and nowhere to
 * talk back to: a request as the protocol core sees it, without a transport.
 */
export function exchangeOf(era: Era): Exchange {
  const base = {
    signal: new AbortController().signal,
    clientCapabilities: {},
    logLevel: undefined,
    notify: () => {},
  };
  return era === "stateless"
    ? { ...base, era, header: () => undefined }
    : { ...base, era, session: QUIET_SESSION };
}
