import { META } from "../protocol.js";
import { type JsonRpcMessage, type Remote, RemoteError, type RemoteOptions } from "../types.js";
import { createHttpClient, discard, mediaType, RemoteRpcError, readText, remoteError } from "./http.js";
import {
  connectionLost,
  isResponseTo,
  type MessageShape,
  paramsOf,
  parseMessages,
  type RequestId,
  shapeOf,
} from "./messages.js";
import { type ParamHeader, requestHeaders, screenTools } from "./request-headers.js";
import { readSse } from "./sse-reader.js";

/** Options of {@link createStatelessRemote}. */
export interface StatelessRemoteOptions extends RemoteOptions {
  /** The revision spoken; it goes into every request's `_meta` and `MCP-Protocol-Version`. */
  readonly protocolVersion: "2026-07-28";
  /** The client capabilities declared in every request's `_meta`. */
  readonly clientCapabilities: { readonly [key: string]: unknown };
  /**
   * The client's name and version for every request's `_meta`, which clients
   * SHOULD send (MCP 2026-07-28 basic/index, `_meta`); default: none.
   */
  readonly clientInfo?: { readonly name: string; readonly version: string };
}

/** Largest JSON response body read (bytes). */
const MAX_JSON_BODY = 16 * 1024 * 1024;

/**
 * UnsupportedProtocolVersionError (MCP 2026-07-28 basic/versioning, "Protocol
 * Version Negotiation"): the client selects a mutually supported version from
 * `supported` and retries.
 */
const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/**
 * Whether `err` refuses the request's version while listing `version`, the
 * only modern one this remote speaks: then the retry the revision asks for is
 * the same request again (once). A list without it leaves nothing to retry with.
 */
function offersOurs(err: RemoteError, version: string): boolean {
  if (!(err instanceof RemoteRpcError) || err.error.code !== UNSUPPORTED_PROTOCOL_VERSION) return false;
  const supported = (err.error.data as { supported?: unknown } | undefined)?.supported;
  return Array.isArray(supported) && supported.includes(version);
}

/** The protocol version a message's own `_meta` names, if any. */
function ownVersion(message: JsonRpcMessage): unknown {
  const meta = paramsOf(message)._meta;
  return typeof meta === "object" && meta !== null
    ? (meta as { [k: string]: unknown })[META.protocolVersion]
    : undefined;
}

/**
 * Stateless Streamable HTTP (MCP 2026-07-28 basic/transports, basic/lifecycle):
 * each message is its own POST; requests and notifications carry the protocol
 * version and client capabilities in `_meta` (any `_meta` keys the host set
 * are kept and win), with `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and
 * `Mcp-Param-*` headers derived from the final body; a tool whose
 * `x-mcp-header` declarations are invalid is left out of `tools/list` (see
 * {@link screenTools}). Answers come as JSON or SSE. A request whose version
 * the remote chose, refused as unsupported by a server that lists that very
 * version, is sent once more. `notifications/cancelled` is POSTed and also
 * closes the request's response, which is how this revision cancels work on
 * the server.
 */
export function createStatelessRemote(options: StatelessRemoteOptions): Remote {
  const http = createHttpClient(options);
  const log = options.log ?? (() => {});
  const inflight = new Map<RequestId, AbortController>();
  /** `tools/list` requests awaiting their answer, whose tools may declare mirrored arguments. */
  const listing = new Set<RequestId>();
  const paramHeaders = new Map<string, ParamHeader[]>();
  let closed = false;

  function deliver(message: JsonRpcMessage): void {
    const shape = shapeOf(message);
    if (shape.kind === "response" && shape.id !== null && listing.delete(shape.id) && "result" in message) {
      const screened = screenTools(message.result);
      for (const [tool, params] of screened.headers) paramHeaders.set(tool, params);
      for (const { tool, reason } of screened.rejected) {
        paramHeaders.delete(tool);
        log(`left the tool ${tool} out of tools/list: ${reason}`);
      }
      if (screened.rejected.length > 0) {
        options.onMessage({ ...message, result: screened.result });
        return;
      }
    }
    options.onMessage(message);
  }

  function withMeta(message: JsonRpcMessage): JsonRpcMessage {
    if (shapeOf(message).kind === "response") return message;
    const params = paramsOf(message);
    const meta = params._meta;
    const own = typeof meta === "object" && meta !== null && !Array.isArray(meta) ? meta : {};
    const merged = {
      [META.protocolVersion]: options.protocolVersion,
      [META.clientCapabilities]: options.clientCapabilities,
      ...(options.clientInfo ? { [META.clientInfo]: options.clientInfo } : {}),
      ...own,
    };
    return { ...message, params: { ...params, _meta: merged } };
  }

  /** Reads an SSE answer in the background; a stream that ends before the response yields an error response. */
  function follow(res: Response, id: RequestId, method: string, signal: AbortSignal): void {
    let answered = false;
    void (async () => {
      for await (const event of readSse(res)) {
        if ((event.event !== undefined && event.event !== "message") || event.data === "") continue;
        const parsed = parseMessages(event.data);
        if ("error" in parsed) {
          log(`dropped an SSE event: ${parsed.error}`);
          continue;
        }
        for (const m of parsed.messages) {
          if (isResponseTo(m, id)) answered = true;
          deliver(m);
        }
        if (answered) return;
      }
      throw new RemoteError("the server closed the stream before answering");
    })()
      .catch((err: unknown) => {
        if (answered || signal.aborted) return;
        const why = err instanceof Error ? err.message : String(err);
        log(`lost the answer to ${method}: ${why}`);
        options.onMessage(connectionLost(id, why));
      })
      .finally(() => {
        if (inflight.get(id)?.signal === signal) inflight.delete(id);
        listing.delete(id);
      });
  }

  async function answer(res: Response, shape: MessageShape, signal: AbortSignal): Promise<void> {
    const type = mediaType(res);
    if (shape.kind !== "request") return discard(res); // 202 Accepted, nothing owed
    if (type === "application/json") {
      const parsed = parseMessages(await readText(res, MAX_JSON_BODY));
      if ("error" in parsed) throw new RemoteError(`POST of ${shape.method}: ${parsed.error}`, res.status);
      for (const m of parsed.messages) deliver(m);
      return;
    }
    if (type === "text/event-stream") return follow(res, shape.id, shape.method, signal);
    await discard(res);
    throw new RemoteError(`POST of ${shape.method}: unexpected content type "${type}"`, res.status);
  }

  return {
    era: "stateless",
    async send(message) {
      if (closed) throw new RemoteError("the connection to the server is closed");
      const body = withMeta(message);
      const shape = shapeOf(body);
      const params = paramsOf(body);
      if (shape.kind === "notification" && shape.method === "notifications/cancelled") {
        const id = params.requestId;
        if (typeof id === "string" || typeof id === "number") inflight.get(id)?.abort();
      }
      const version = (params._meta as { [META.protocolVersion]?: unknown } | undefined)?.[
        META.protocolVersion
      ];
      const tool = shape.kind === "request" && shape.method === "tools/call" ? params.name : undefined;
      const abort = new AbortController();
      if (shape.kind === "request") {
        inflight.set(shape.id, abort);
        if (shape.method === "tools/list") listing.add(shape.id);
      }
      // The version is ours to negotiate only where we chose it (the host's own `_meta` wins).
      const ours = ownVersion(message) === undefined;
      let streaming = false;
      try {
        let res: Response;
        for (let attempt = 0; ; attempt++) {
          res = await http(options.url, {
            method: "POST",
            headers: {
              accept: "application/json, text/event-stream",
              "content-type": "application/json",
              ...requestHeaders(
                body,
                typeof version === "string" ? version : options.protocolVersion,
                typeof tool === "string" ? paramHeaders.get(tool) : undefined,
              ),
            },
            body: JSON.stringify(body),
            signal: abort.signal,
          });
          if (res.ok) break;
          const err = await remoteError(
            res,
            shape.kind === "response" ? "POST of a response" : `POST of ${shape.method}`,
          );
          if (!(ours && attempt === 0 && offersOurs(err, options.protocolVersion))) throw err;
          log(`${options.url.origin} refused ${options.protocolVersion} once but lists it: sending again`);
        }
        streaming = shape.kind === "request" && mediaType(res) === "text/event-stream";
        await answer(res, shape, abort.signal);
      } catch (err) {
        // Cancelled by the host: no answer is owed (basic/utilities/cancellation).
        if (abort.signal.aborted && !closed) return;
        throw err;
      } finally {
        if (shape.kind === "request" && !streaming) {
          if (inflight.get(shape.id) === abort) inflight.delete(shape.id);
          listing.delete(shape.id);
        }
      }
    },
    async close() {
      closed = true;
      for (const abort of inflight.values()) abort.abort();
      inflight.clear();
    },
  };
}
