/**
 * The contracts between the proxy's parts: the host side (stdio), the remote
 * side (one MCP transport era over HTTP) and the OAuth client that supplies
 * bearer tokens. The proxy is its own layer: it shares only JSON-RPC types
 * with the gateway.
 */

/** One JSON-RPC 2.0 message as it travels between host and server (JSON-RPC 2.0 §4, §5). */
export type JsonRpcMessage = { readonly jsonrpc: "2.0"; readonly [key: string]: unknown };

/** How the remote speaks: MCP transport eras. */
export type RemoteEra =
  /** 2026-07-28: stateless Streamable HTTP, version and capabilities in every request's `_meta`. */
  | "stateless"
  /** 2025-03-26 … 2025-11-25: Streamable HTTP with `Mcp-Session-Id`. */
  | "session"
  /** 2024-11-05: HTTP+SSE (`GET` an SSE stream, `POST` to the announced endpoint). */
  | "legacy-sse";

/**
 * Supplies the `Authorization` header for requests to the remote and learns
 * from the remote's challenges. Implemented by the OAuth client
 * (`src/proxy/oauth/`); a remote without auth uses {@link NO_AUTH}.
 */
export interface AuthSource {
  /** The header value to send (`Bearer …`), refreshing a token that is about to expire; undefined: none yet. */
  authorization(): Promise<string | undefined>;
  /**
   * The remote answered 401 (`WWW-Authenticate` given) or 403 `insufficient_scope`.
   * Resolves `"retry"` when a new token is ready (refreshed, or a step-up done),
   * or `"login"` when the user must log in first (the flow has started; see `loginUrl`).
   */
  challenged(status: 401 | 403, wwwAuthenticate: string | null): Promise<"retry" | "login">;
}

/** A remote that needs no credentials. */
export const NO_AUTH: AuthSource = {
  authorization: async () => undefined,
  challenged: async () => "login",
};

/** The remote refused the request for lack of (valid) credentials and a login is under way. */
export class LoginRequiredError extends Error {
  override readonly name = "LoginRequiredError";
  constructor(readonly status: 401 | 403) {
    super(`the server requires a login (HTTP ${status})`);
  }
}

/** The remote failed in a way the host should hear about as a JSON-RPC error. */
export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(
    message: string,
    /** HTTP status, when the failure was an HTTP answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * One connection to a remote MCP server in one era. Messages from the host go
 * in with `send`; everything the server sends (responses, notifications,
 * server-to-client requests) comes out through `onMessage`, in order, exactly
 * once — streams are resumed with `Last-Event-ID` after a drop.
 */
export interface Remote {
  readonly era: RemoteEra;
  /**
   * Sends one message. Resolves once the server accepted it (a response may
   * come later through `onMessage`). Rejects with {@link LoginRequiredError}
   * when the server wants credentials it does not have, or {@link RemoteError}.
   */
  send(message: JsonRpcMessage): Promise<void>;
  /** Ends the connection (session DELETE where the era has one). */
  close(): Promise<void>;
}

/** What a remote needs from the proxy around it. */
export interface RemoteOptions {
  /** The MCP endpoint URL. */
  readonly url: URL;
  readonly auth: AuthSource;
  /** Every message the server sends, in order. */
  readonly onMessage: (message: JsonRpcMessage) => void;
  /** A fatal failure of the connection (not of one request). */
  readonly onError?: (error: Error) => void;
  /** Operator messages (stderr / log file); never tokens. */
  readonly log?: (message: string) => void;
  /** `fetch` to use (tests); default the global one. */
  readonly fetch?: typeof fetch;
}
