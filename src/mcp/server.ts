import type { JsonValue } from "@bufbuild/protobuf";
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
  /** Metadata to send to the backend (identity, ids). */
  readonly headers?: Headers;
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
  const toolList = { tools: options.tools.map(describeTool) };
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
        return toolList;
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
    const backend = options.backends.get(tool.backend);
    if (!backend)
      throw new JsonRpcError(ErrorCode.InternalError, `No backend "${tool.backend}" for tool ${name}`);
    const callCtx = {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.headers ? { headers: ctx.headers } : {}),
    };
    return callTool(tool, params.arguments, backend, callCtx);
  }

  return {
    async handle(req, ctx) {
      if (req.id === undefined) return undefined;
      try {
        return success(req.id, await dispatch(req as JsonRpcRequest & { id: RequestId }, ctx));
      } catch (err) {
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
