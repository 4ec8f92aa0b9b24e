import type { JsonValue } from "@bufbuild/protobuf";
import type { Identity } from "../auth/index.js";
import type { ToolDef } from "../catalog/index.js";
import { type BackendHandle, type CallToolResult, callTool } from "../invoke/index.js";
import {
  ErrorCode,
  failure,
  JsonRpcError,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
  success,
} from "./jsonrpc.js";
import { negotiateVersion } from "./versions.js";

/** Identity and transport facts of one incoming request. */
export interface RequestContext {
  /** Aborted when the client goes away or cancels. */
  readonly signal?: AbortSignal;
  /** The verified caller, when auth is on. */
  readonly identity?: Identity;
}

/**
 * The caller lacks scopes an operation needs; transports answer it with HTTP 403
 * and an `insufficient_scope` challenge (RFC 6750 §3.1; MCP authorization, "Scope Challenge").
 */
export class InsufficientScopeError extends Error {
  override readonly name = "InsufficientScopeError";
  constructor(readonly required: readonly string[]) {
    super(`insufficient scope: ${required.join(" ")}`);
  }
}

/** Server identity reported in `initialize` (MCP basic/lifecycle "Initialization"). */
export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly title?: string;
}

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  readonly info: ServerInfo;
  readonly tools: readonly ToolDef[];
  readonly backends: ReadonlyMap<string, BackendHandle>;
  readonly instructions?: string;
  /** Enforce the scopes declared in proto (auth on). */
  readonly enforceScopes?: boolean;
  /** Request metadata for a backend call on behalf of the caller (identity, tokens). */
  readonly backendHeaders?: (backend: string, identity: Identity | undefined) => Promise<Headers | undefined>;
}

/** The protocol core: maps JSON-RPC requests to results, independent of any transport. */
export interface McpServer {
  /** Handles a request; notifications return `undefined`. */
  handle(request: JsonRpcRequest, ctx: RequestContext): Promise<JsonRpcResponse | undefined>;
}

/**
 * Creates the MCP protocol core for a tool catalog. The tools/list payload is
 * built once: it only changes when the catalog does.
 */
export function createMcpServer(options: McpServerOptions): McpServer {
  const toolsByName = new Map(options.tools.map((t) => [t.name, t]));
  const described = options.tools.map((t) => ({ tool: t, wire: describeTool(t) }));
  const toolList = { tools: described.map((d) => d.wire) };
  const enforce = options.enforceScopes === true;

  /** Scopes of `required` the caller does not hold. */
  function missingScopes(required: readonly string[], ctx: RequestContext): string[] {
    if (!enforce) return [];
    const held = ctx.identity?.scopes;
    return required.filter((s) => !held?.has(s));
  }
  const capabilities = { tools: { listChanged: false } };

  async function dispatch(req: JsonRpcRequest & { id: RequestId }, ctx: RequestContext): Promise<unknown> {
    const params = req.params ?? {};
    switch (req.method) {
      case "initialize":
        return {
          protocolVersion: negotiateVersion(params.protocolVersion),
          capabilities,
          serverInfo: options.info,
          ...(options.instructions ? { instructions: options.instructions } : {}),
        };
      case "ping":
        return {};
      case "tools/list":
        // Only what the caller may use (a tool needing scopes it lacks is hidden).
        return enforce
          ? {
              tools: described
                .filter((d) => missingScopes(d.tool.scopes, ctx).length === 0)
                .map((d) => d.wire),
            }
          : toolList;
      case "tools/call":
        return callByName(params, ctx);
      default:
        throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method}`);
    }
  }

  /** MCP 2025-11-25 server/tools "Calling Tools"; unknown tools are protocol errors ("Error Handling"). */
  async function callByName(
    params: { [k: string]: JsonValue | undefined },
    ctx: RequestContext,
  ): Promise<CallToolResult> {
    const name = params.name;
    if (typeof name !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, "params.name must be a string");
    const tool = toolsByName.get(name);
    if (!tool) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    if (missingScopes(tool.scopes, ctx).length > 0) throw new InsufficientScopeError(tool.scopes);
    const backend = options.backends.get(tool.backend);
    if (!backend) {
      throw new JsonRpcError(ErrorCode.InternalError, `No backend "${tool.backend}" for tool ${name}`);
    }
    let headers: Headers | undefined;
    try {
      headers = await options.backendHeaders?.(tool.backend, ctx.identity);
    } catch (err) {
      return {
        content: [
          { type: "text", text: `Could not obtain credentials for the backend: ${(err as Error).message}` },
        ],
        isError: true,
      };
    }
    const callCtx = { ...(ctx.signal ? { signal: ctx.signal } : {}), ...(headers ? { headers } : {}) };
    return callTool(tool, params.arguments, backend, callCtx);
  }

  return {
    async handle(req, ctx) {
      if (req.id === undefined) return undefined;
      try {
        return success(req.id, await dispatch(req as JsonRpcRequest & { id: RequestId }, ctx));
      } catch (err) {
        if (err instanceof InsufficientScopeError) throw err;
        if (err instanceof JsonRpcError) return failure(req.id, err.code, err.message, err.data);
        return failure(req.id, ErrorCode.InternalError, "Internal error");
      }
    },
  };
}

/** The wire form of a tool in tools/list (MCP 2025-11-25 server/tools "Tool"). */
function describeTool(t: ToolDef): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = { name: t.name };
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  out.inputSchema = t.inputSchema;
  out.outputSchema = t.outputSchema;
  if (Object.keys(t.annotations).length > 0) out.annotations = t.annotations;
  return out;
}
