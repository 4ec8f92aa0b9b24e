import type { JsonObject } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import { type CallContext, passesLevel } from "../invoke/index.js";
import type { Exchange } from "./exchange.js";
import type { RequestId } from "./jsonrpc.js";

/** Request metadata for a backend call on behalf of the caller (identity, tokens). */
export type BackendHeaders = (
  backend: string,
  identity: Identity | undefined,
) => { readonly [key: string]: string } | undefined | Promise<{ readonly [key: string]: string } | undefined>;

/**
 * Metadata and relays for one backend call: the caller's identity, the request
 * id, and the request's progress (MCP 2025-11-25 basic/utilities/progress) and
 * log notifications (server/utilities/logging) relayed back to the client.
 */
export async function callContext(
  backendHeaders: BackendHeaders | undefined,
  backend: string,
  id: RequestId | undefined,
  params: JsonObject,
  ex: Exchange,
): Promise<CallContext> {
  // Without a caller there is no identity metadata; with one, it is usually at hand: await only a promise.
  const pending = ex.identity && backendHeaders ? backendHeaders(backend, ex.identity) : undefined;
  const identity = pending instanceof Promise ? await pending : pending;
  const meta = params._meta as JsonObject | undefined;
  const token = meta?.progressToken;
  const progressToken = typeof token === "string" || typeof token === "number" ? token : undefined;
  const headers: { [key: string]: string } = identity ? { ...identity } : {};
  if (ex.backendMetadata) Object.assign(headers, ex.backendMetadata);
  if (id !== undefined) headers["mcpengine-request-id"] = String(id);
  if (progressToken !== undefined) headers["mcpengine-progress-token"] = String(progressToken);
  const ctx: CallContext = {
    signal: ex.signal,
    headers,
    ...(progressToken !== undefined
      ? {
          onProgress: (p) => ex.notify("notifications/progress", { progressToken, ...p } as JsonObject),
        }
      : {}),
    onLog: (level, logger, data) => {
      // A session's level can change while the call runs (logging/setLevel): read it per message.
      const minimum = ex.era === "session" ? ex.session.logLevel : ex.logLevel;
      if (!passesLevel(level, minimum)) return;
      ex.notify("notifications/message", logger ? { level, logger, data } : { level, data });
    },
  };
  return ctx;
}
