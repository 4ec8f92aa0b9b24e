import { LoginRequiredError, RemoteError, type RemoteOptions } from "../types.js";
import { nodeFetch } from "./node-fetch.js";

/** One HTTP request to the remote. Bodies are strings so a request can be sent again after a challenge. */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "DELETE";
  readonly headers: { readonly [name: string]: string };
  readonly body?: string;
  readonly signal?: AbortSignal;
  /**
   * Whether a 401/403 challenge goes to the {@link AuthSource} (default true).
   * False for best-effort requests such as the session DELETE on close, which
   * must not start a login.
   */
  readonly challenge?: boolean;
}

/** Sends requests to the remote with the `Authorization` header, handling auth challenges. */
export type HttpClient = (url: URL, request: HttpRequest) => Promise<Response>;

/** A JSON-RPC error object (JSON-RPC 2.0 §5.1). */
export interface RpcError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/**
 * A {@link RemoteError} whose HTTP answer carried a JSON-RPC error: the bridge
 * can hand the host the server's own code and data.
 */
export class RemoteRpcError extends RemoteError {
  constructor(
    message: string,
    status: number,
    readonly error: RpcError,
  ) {
    super(message, status);
  }
}

/** Most bytes read from an error body. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * The HTTP client of one remote (RFC 6750 §3; MCP 2025-11-25 basic/authorization):
 * every request carries the current `Authorization`; a 401, or a 403 whose
 * `WWW-Authenticate` names `insufficient_scope`, goes to `auth.challenged`,
 * after which the request is sent once more (`"retry"`) or fails with
 * {@link LoginRequiredError} (`"login"`). Other statuses are returned as they
 * are; a network failure is a {@link RemoteError} without a status.
 */
export function createHttpClient(options: RemoteOptions): HttpClient {
  const send = options.fetch ?? nodeFetch;
  return async (url, request) => {
    for (let attempt = 0; ; attempt++) {
      const headers: { [name: string]: string } = { ...request.headers };
      const authorization = await options.auth.authorization();
      if (authorization) headers.authorization = authorization;
      const res = await send(url, {
        method: request.method,
        headers,
        ...(request.body !== undefined ? { body: request.body } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      }).catch((err: unknown) => {
        if (request.signal?.aborted) throw err;
        throw new RemoteError(`${request.method} ${url.origin}${url.pathname}: ${networkReason(err)}`);
      });
      const status = challengeOf(res);
      if (status === undefined || request.challenge === false) return res;
      await discard(res);
      const verdict = await options.auth.challenged(status, res.headers.get("www-authenticate"));
      if (verdict === "login") throw new LoginRequiredError(status);
      if (attempt > 0) {
        throw new RemoteError(
          `${request.method} ${url.pathname}: the server refused the new credentials`,
          status,
        );
      }
    }
  };
}

/** Why fetch failed, from its cause (e.g. `connect ECONNREFUSED 127.0.0.1:1`), for people to read. */
function networkReason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** 401, or 403 for missing scope (RFC 6750 §3.1 `insufficient_scope`): statuses a new token can fix. */
function challengeOf(res: Response): 401 | 403 | undefined {
  if (res.status === 401) return 401;
  if (res.status === 403 && /insufficient_scope/i.test(res.headers.get("www-authenticate") ?? "")) return 403;
  return undefined;
}

/**
 * The error for a non-2xx answer, with the server's JSON-RPC error message
 * when the body has one, else a short excerpt of the body. Consumes the body.
 */
export async function remoteError(res: Response, what: string): Promise<RemoteError> {
  const text = await readText(res, MAX_ERROR_BODY).catch(() => "");
  const rpc = rpcErrorOf(text);
  if (rpc) return new RemoteRpcError(`${what}: ${rpc.message} (HTTP ${res.status})`, res.status, rpc);
  const excerpt = text.replace(/\s+/g, " ").trim().slice(0, 200);
  const detail = excerpt ? `: ${excerpt}` : res.statusText ? `: ${res.statusText}` : "";
  return new RemoteError(`${what} failed with HTTP ${res.status}${detail}`, res.status);
}

/** The JSON-RPC error in a body, if it is a JSON-RPC error response. */
function rpcErrorOf(text: string): RpcError | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; data?: unknown } };
    const e = body?.error;
    if (typeof e?.code !== "number" || typeof e.message !== "string") return undefined;
    return { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Reads a body as UTF-8 text, failing with a {@link RemoteError} past
 * `maxBytes`, so a misbehaving server cannot exhaust memory.
 */
export async function readText(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw new RemoteError(`the response body exceeds ${maxBytes} bytes`);
      chunks.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Drops a body we do not need, so the connection can be reused. */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/** The media type of a response, lowercased, without parameters. */
export function mediaType(res: Response): string {
  return (res.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}
