import type { JsonValue } from "@bufbuild/protobuf";
import type { ToolDef } from "../../catalog/index.js";
import { type CallContext, callTool, toolErrorResult } from "../../invoke/index.js";
import { McpErrorCode } from "../errors.js";
import type { Exchange } from "../exchange.js";
import { decodeHeaderValue, headerText } from "../headers.js";
import { incomingInput, withInput } from "../input.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { declaresTasks, missingTasksExtension, runAsTask } from "../tasks/index.js";

/** MCP 2025-11-25 server/tools "Listing Tools": the tools the caller may call, a page at a time. */
export function listTools({ params, ex }: MethodCall, ctx: ServerContext): object {
  return ctx.page("tools", params, ex);
}

/**
 * MCP 2025-11-25 server/tools "Calling Tools"; unknown tools are protocol errors,
 * backend failures are results with `isError` ("Error Handling"). A tool that
 * may run as a task (`(mcpengine.v1.tool).task`) called by a request that
 * declares the tasks extension may be answered with a task (SEP-2663, tasks/run.ts).
 */
export async function callToolByName({ id, params, ex }: MethodCall, ctx: ServerContext): Promise<object> {
  const name = params.name;
  if (typeof name !== "string")
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.name must be a string");
  const tool = ctx.catalog.toolsByName.get(name);
  if (!tool) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  ctx.demand(tool.scopes, ex);
  // Only 2026-07-28 mirrors arguments in headers (basic/transports "Request Headers").
  if (ex.era === "stateless" && tool.headerParams.length > 0) {
    checkParamHeaders(tool, params.arguments, ex.header);
  }
  const asTask = runsAsTask(tool, ex);
  const backend = ctx.backendOf(tool);
  let base: CallContext;
  try {
    base = await ctx.callContext(tool.backend, id, params, ex);
  } catch (err) {
    // Credentials for the backend (e.g. a token exchange) failed: the model sees it, like a backend failure.
    return toolErrorResult(`Could not obtain credentials for the backend: ${(err as Error).message}`);
  }
  const binding = `tools/call\0${name}`;
  const call = (c: CallContext) => callTool(tool, params.arguments, backend, c);
  if (asTask) {
    const input = incomingInput(ctx.input, params, binding);
    return runAsTask({ ctx, ex, binding, base, input, call, tool: tool.name });
  }
  return withInput(ctx.input, binding, params, ex, base, call);
}

/**
 * Whether the call may become a task (SEP-2663 "Capability Negotiation"): the
 * tool allows it and the request declares the extension. A tool that requires
 * it refuses a 2026-07-28 request without the extension (-32021); session-era
 * clients, for which the extension is not defined, run every tool synchronously.
 */
function runsAsTask(tool: ToolDef, ex: Exchange): boolean {
  if (tool.task === "never" || ex.era !== "stateless") return false;
  if (declaresTasks(ex)) return true;
  if (tool.task === "required") throw missingTasksExtension(`the tool "${tool.name}"`);
  return false;
}

/**
 * Checks that every `Mcp-Param-*` header agrees with the argument it mirrors
 * (MCP 2026-07-28 basic/transports "Server Behavior for Custom Headers").
 */
function checkParamHeaders(
  tool: ToolDef,
  args: JsonValue | undefined,
  header: (name: string) => string | undefined,
): void {
  const given = typeof args === "object" && args !== null && !Array.isArray(args) ? args : {};
  for (const p of tool.headerParams) {
    const raw = header(`mcp-param-${p.header.toLowerCase()}`);
    const value = given[p.argument];
    const mismatch = (why: string) =>
      new JsonRpcError(McpErrorCode.HeaderMismatch, `Mcp-Param-${p.header} ${why}`, {
        header: `Mcp-Param-${p.header}`,
      });
    if (value === undefined || value === null) {
      if (raw !== undefined) throw mismatch(`is set but arguments.${p.argument} is absent`);
      continue;
    }
    if (raw === undefined) throw mismatch(`is required when arguments.${p.argument} is present`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) throw mismatch("has an invalid value");
    if (decoded !== headerText(value)) throw mismatch(`does not match arguments.${p.argument}`);
  }
}
