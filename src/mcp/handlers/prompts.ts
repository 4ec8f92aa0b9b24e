import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { PromptDef } from "../../catalog/index.js";
import { promptResult, WellKnown } from "../../invoke/index.js";
import { withInput } from "../input.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { invokeBound } from "./unary.js";

/** MCP 2025-11-25 server/prompts "Listing Prompts": a page of prompts. */
export function listPrompts({ params, ex }: MethodCall, ctx: ServerContext): object {
  return ctx.page("prompts", params, ex);
}

/**
 * MCP 2025-11-25 server/prompts "Getting a Prompt": arguments fill the request's
 * string fields; an `mcpengine.v1.PromptResult` reply gives the messages, any
 * other reply becomes one user message holding its JSON.
 */
export async function getPrompt({ params, ex }: MethodCall, ctx: ServerContext): Promise<object> {
  const name = params.name;
  if (typeof name !== "string")
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.name must be a string");
  const prompt = ctx.catalog.promptsByName.get(name);
  if (!prompt) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  ctx.demand(prompt.scopes, ex);
  const request = promptRequest(prompt, params.arguments);
  const base = await ctx.callContext(prompt.backend, undefined, params, ex);
  return withInput(ctx.input, `prompts/get\0${name}`, params, ex, base, async (c) => {
    const out = await invokeBound(ctx, prompt, request, c, { kind: "prompt" });
    if (!("done" in out)) return out;
    const reply = out.done;
    if (prompt.method.output.typeName === WellKnown.PromptResult) return { done: promptResult(reply) };
    return {
      done: { messages: [{ role: "user", content: { type: "text", text: JSON.stringify(reply) } }] },
    };
  });
}

/** The RPC request of a prompt: each argument (by name or field name) into its string field. */
function promptRequest(prompt: PromptDef, args: JsonValue | undefined): JsonObject {
  if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
    throw new JsonRpcError(ErrorCode.InvalidParams, "params.arguments must be an object of strings");
  }
  const given = (args ?? {}) as JsonObject;
  const request: JsonObject = {};
  for (const a of prompt.arguments) {
    const v = given[a.name] ?? given[a.field.name];
    if (v === undefined || v === null) {
      if (a.required) throw new JsonRpcError(ErrorCode.InvalidParams, `Missing required argument: ${a.name}`);
      continue;
    }
    if (typeof v !== "string")
      throw new JsonRpcError(ErrorCode.InvalidParams, `Argument ${a.name} must be a string`);
    request[a.field.jsonName] = v;
  }
  return request;
}
