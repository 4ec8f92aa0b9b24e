import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthResult, Identity, ResourceServer } from "../auth/index.js";
import { ErrorCode, failure } from "../mcp/index.js";
import type { OriginPolicy } from "./origin.js";
import { refuse, sendJson } from "./reply.js";

/** A handler that runs once its caller is admitted, with the caller's identity (undefined without auth). */
export type AdmittedHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  identity: Identity | undefined,
) => Promise<void>;

/** A Node request handler. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What admission checks: Host/Origin against DNS rebinding, then the bearer token. */
export interface AdmissionOptions {
  readonly origin?: OriginPolicy;
  readonly auth?: ResourceServer;
}

const ANONYMOUS: { identity?: Identity } = Object.freeze({});

/**
 * The admission interceptor of every MCP endpoint: duplicate Host or
 * Authorization headers, the origin policy (MCP 2025-11-25 basic/transports
 * "Security Warning"), then authentication (MCP basic/authorization; RFC 6750).
 * Refusals are answered here; the handler only sees admitted callers.
 * Synchronous without auth and for a token verified before, so the hot path
 * skips a microtask.
 */
export function createAdmission(options: AdmissionOptions): (handler: AdmittedHandler) => NodeHandler {
  function admit(
    req: IncomingMessage,
    res: ServerResponse,
  ): { identity?: Identity } | undefined | Promise<{ identity?: Identity } | undefined> {
    const duplicate = duplicatedHeader(req);
    if (duplicate) {
      // Two Host or Authorization headers: which one a proxy in front acted on is unknowable (RFC 9112 §3.2).
      const text = `Bad Request: more than one ${duplicate} header`;
      sendJson(res, 400, failure(null, ErrorCode.InvalidRequest, text), true);
      return undefined;
    }
    const refusal = options.origin?.check(req);
    if (refusal) {
      req.resume();
      sendJson(res, 403, failure(null, ErrorCode.InvalidRequest, `Forbidden: ${refusal}`));
      return undefined;
    }
    if (!options.auth) return ANONYMOUS;
    const result = options.auth.authenticate(req.headers.authorization);
    return result instanceof Promise ? result.then((r) => admitted(req, res, r)) : admitted(req, res, result);
  }

  return (handler) => async (req, res) => {
    const gate = admit(req, res);
    const caller = gate instanceof Promise ? await gate : gate;
    if (caller) return handler(req, res, caller.identity);
  };
}

/** The caller's identity, or undefined once a failed authentication has been answered. */
function admitted(
  req: IncomingMessage,
  res: ServerResponse,
  result: AuthResult,
): { identity?: Identity } | undefined {
  if (!result.ok) {
    // A caller we refuse does not get its large body read: answer and close the connection.
    const close = hasLargeBody(req);
    if (!close) req.resume();
    refuse(res, result, close);
    return undefined;
  }
  return { identity: result.identity };
}

/** Bodies up to this size are drained after a refusal, keeping the connection for the retry. */
const DRAIN_LIMIT = 64 * 1024;

/** A body that is chunked, or declared larger than {@link DRAIN_LIMIT}. */
function hasLargeBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = Number(req.headers["content-length"] ?? 0);
  return !(length <= DRAIN_LIMIT);
}

/** The first of Host and Authorization that the request carries more than once (Node keeps only the first). */
function duplicatedHeader(req: IncomingMessage): string | undefined {
  let host = 0;
  let authorization = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === "host" && ++host > 1) return "Host";
    if (name === "authorization" && ++authorization > 1) return "Authorization";
  }
  return undefined;
}
