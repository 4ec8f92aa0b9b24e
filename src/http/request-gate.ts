import type { IncomingMessage, ServerResponse } from "node:http";
import type { Identity } from "../auth/index.js";
import {
  type Exchange,
  type JsonRpcRequest,
  type McpHandle,
  type McpInterceptor,
  type RequestId,
  requestLimited,
} from "../mcp/index.js";
import type { PostRoute } from "./classify.js";
import { header, JSON_HEADERS } from "./reply.js";
import type { LimitRefusal, LimitTicket, RequestLimiter } from "./request-limits.js";
import { ownerOf } from "./session-service.js";
import { NO_SESSION_YET } from "./streamable.js";
import { traceHeadersOf } from "./trace-headers.js";
import type { McpTransport } from "./transport.js";

type Request = JsonRpcRequest & { id: RequestId };

/**
 * The limits per caller and per session applied to the requests POSTed to
 * the MCP endpoints. Each admits a request (the ticket is released once its
 * reply is finished) or answers it `429 Too Many Requests` with `Retry-After`
 * (RFC 6585 §4; RFC 9110 §10.2.3) and a JSON-RPC error naming the limit, and
 * returns undefined.
 */
export interface RequestGate {
  /** A POST to the Streamable HTTP endpoint that {@link countedRequest} counts. */
  post(
    route: CountedRoute,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): LimitTicket | undefined;
  /** A request POSTed to a 2024-11-05 session's message endpoint, before it is accepted with 202. */
  legacy(
    request: Request,
    sessionId: string,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
  ): LimitTicket | undefined;
}

/** The routes whose POST is a request that limits count. */
export type CountedRoute =
  | Extract<PostRoute, { kind: "stateless" | "initialize" }>
  | (Extract<PostRoute, { kind: "session" }> & { readonly message: { readonly kind: "request" } });

/**
 * Whether limits count a POST: every JSON-RPC request (an id and a method),
 * `initialize` included, since opening sessions in a loop is what a rate
 * limit is for; not notifications, the client's responses, or POSTs refused
 * before they reach the core (malformed, headers disagreeing). Pure.
 */
export function countedRequest(route: PostRoute): route is CountedRoute {
  switch (route.kind) {
    case "stateless":
    case "initialize":
      return true;
    case "session":
      return route.message.kind === "request";
    case "reject":
    case "accepted":
      return false;
  }
}

/**
 * The gate over `limiter`. A refusal is observed like an answered request:
 * the transport's interceptors (request line with outcome `limited`, metrics,
 * span) run around a core that answers the refusal, never the real one.
 */
export function createRequestGate(
  limiter: RequestLimiter,
  intercept: (transport: McpTransport) => readonly McpInterceptor[],
): RequestGate {
  const interceptors: { readonly [T in McpTransport]: readonly McpInterceptor[] } = {
    stateless: intercept("stateless"),
    streamable: intercept("streamable"),
    legacy: intercept("legacy"),
  };

  function refuse(
    refusal: LimitRefusal,
    transport: McpTransport,
    request: Request,
    ex: Exchange,
    res: ServerResponse,
  ): undefined {
    const { which: limit, scope, retryAfterSeconds: retryAfter } = refusal;
    const response = requestLimited(request.id, refusal.message, { limit, scope, retryAfter });
    if (!res.headersSent && !res.destroyed) {
      res
        .writeHead(429, { ...JSON_HEADERS, "retry-after": String(retryAfter) })
        .end(JSON.stringify(response));
    }
    const answer: McpHandle = () => Promise.resolve(response);
    const chain = interceptors[transport].reduceRight<McpHandle>((next, i) => i(next), answer);
    // Observation only: the refusal is answered already, and a failing observer changes nothing.
    chain(request, ex).catch(() => {});
    return undefined;
  }

  return {
    post(route, req, res, identity) {
      const owner = ownerOf(req, identity);
      const admission = limiter.admit(owner, route.kind === "session" ? route.sessionId : undefined);
      if (admission.ok) return admission;
      if (route.kind === "stateless") {
        const ex: Exchange = {
          ...base(req, identity),
          era: "stateless",
          clientCapabilities: route.clientCapabilities,
          logLevel: route.logLevel,
          header: (name) => header(req, name),
        };
        return refuse(admission, "stateless", route.request, ex, res);
      }
      const request = route.kind === "session" ? route.message.message : route.request;
      return refuse(admission, "streamable", request, sessionExchange(req, identity), res);
    },
    legacy(request, sessionId, req, res, identity) {
      const admission = limiter.admit(ownerOf(req, identity), sessionId);
      if (admission.ok) return admission;
      return refuse(admission, "legacy", request, sessionExchange(req, identity), res);
    },
  };
}

/** A refused request is never cancelled: it ran nothing. */
const NEVER_ABORTED = new AbortController().signal;

function base(req: IncomingMessage, identity: Identity | undefined) {
  const traceHeaders = traceHeadersOf(req);
  return {
    signal: NEVER_ABORTED,
    ...(identity ? { identity } : {}),
    notify: () => {},
    ...(traceHeaders ? { traceHeaders } : {}),
  };
}

/** The exchange a refused session-era request is observed with: it reaches no session. */
function sessionExchange(req: IncomingMessage, identity: Identity | undefined): Exchange {
  return {
    ...base(req, identity),
    era: "session",
    clientCapabilities: {},
    logLevel: undefined,
    session: NO_SESSION_YET,
  };
}
