import type { JsonObject } from "@bufbuild/protobuf";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { invokeBound } from "./unary.js";

/** Most values one completion returns (MCP 2025-11-25 server/utilities/completion "Completion Results"). */
const MAX_VALUES = 100;

/**
 * MCP 2025-11-25 server/utilities/completion: the backend's completion handler
 * gets the reference, the argument and the other arguments already given;
 * without a handler every completion is empty.
 */
export async function complete({ params, ex }: MethodCall, ctx: ServerContext): Promise<object> {
  const ref = params.ref as JsonObject | undefined;
  const argument = params.argument as JsonObject | undefined;
  if (!ref || typeof ref !== "object" || !argument || typeof argument.name !== "string") {
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.ref and params.argument.name are required");
  }
  const handler = ctx.catalog.surface.completion;
  if (!handler) return { completion: { values: [], hasMore: false } };
  ctx.demand(handler.scopes, ex);
  const context = ((params.context as JsonObject | undefined)?.arguments ?? {}) as JsonObject;
  const request: JsonObject = {
    prompt: ref.type === "ref/prompt" && typeof ref.name === "string" ? ref.name : "",
    uriTemplate: ref.type === "ref/resource" && typeof ref.uri === "string" ? ref.uri : "",
    argument: argument.name,
    value: typeof argument.value === "string" ? argument.value : "",
    context: Object.fromEntries(
      Object.entries(context).filter(([, v]) => typeof v === "string"),
    ) as JsonObject,
  };
  const call = await ctx.callContext(handler.backend, undefined, params, ex);
  const out = await invokeBound(ctx, handler, request, call, { kind: "completion" });
  // Completions are answered at once: there is no request state to carry input through.
  if (!("done" in out))
    throw new JsonRpcError(ErrorCode.InternalError, "completion handlers cannot ask for input");
  const values = (Array.isArray(out.done.values) ? out.done.values : []).slice(0, MAX_VALUES);
  const completion: { [k: string]: unknown } = { values, hasMore: out.done.hasMore === true };
  if (out.done.total !== undefined) completion.total = out.done.total;
  return { completion };
}
