import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Bound, ResourceTemplateDef } from "../../catalog/index.js";
import { resourceContents, WellKnown } from "../../invoke/index.js";
import { resourceNotFound } from "../errors.js";
import { withInput } from "../input.js";
import { ErrorCode, JsonRpcError } from "../jsonrpc.js";
import type { MethodCall, ServerContext } from "../server-context.js";
import { invokeBound } from "./unary.js";

/** MCP 2025-11-25 server/resources "Listing Resources": a page of direct resources. */
export function listResources({ params, ex }: MethodCall, ctx: ServerContext): object {
  return ctx.page("resources", params, ex);
}

/** MCP 2025-11-25 server/resources "Resource Templates": a page of templates. */
export function listResourceTemplates({ params, ex }: MethodCall, ctx: ServerContext): object {
  return ctx.page("resourceTemplates", params, ex);
}

/**
 * MCP 2025-11-25 server/resources "Reading Resources": a direct resource by URI,
 * else the first template that matches it, whose variables fill request fields.
 */
export async function readResource({ params, ex }: MethodCall, ctx: ServerContext): Promise<object> {
  const uri = params.uri;
  if (typeof uri !== "string") throw new JsonRpcError(ErrorCode.InvalidParams, "params.uri must be a string");
  let def: Bound | undefined = ctx.catalog.resourcesByUri.get(uri);
  let request: JsonObject = {};
  if (!def) {
    for (const t of ctx.catalog.surface.templates) {
      const vars = t.template.match(uri);
      if (vars) {
        def = t;
        request = bindTemplate(t, vars);
        break;
      }
    }
  }
  const stateless = ex.era === "stateless";
  if (!def) throw resourceNotFound(uri, stateless);
  ctx.demand(def.scopes, ex);
  const found = def;
  const base = await ctx.callContext(found.backend, undefined, params, ex);
  const site = { kind: "resource", uri, stateless } as const;
  return withInput(ctx.input, `resources/read\0${uri}`, params, ex, base, async (c) => {
    const out = await invokeBound(ctx, found, request, c, site);
    if (!("done" in out)) return out;
    return { done: { contents: readContents(found, uri, out.done) } };
  });
}

/**
 * The `contents` of a read (MCP 2025-11-25 server/resources "Resource Contents"):
 * an `mcpengine.v1.ResourceResult` reply as its contents, any other reply as JSON text.
 */
function readContents(def: Bound, uri: string, reply: JsonObject): unknown[] {
  const mimeType = (def as { mimeType?: string }).mimeType;
  if (def.method.output.typeName !== WellKnown.ResourceResult) {
    return [{ uri, mimeType: "application/json", text: JSON.stringify(reply) }];
  }
  const contents = Array.isArray(reply.contents) ? reply.contents : [];
  return contents.map((c) => {
    const out = resourceContents(c as { [k: string]: JsonValue });
    if (!out.uri) out.uri = uri;
    if (out.mimeType === undefined && mimeType) out.mimeType = mimeType;
    return out;
  });
}

/** The request of a templated read: each URI variable into the field it is bound to (RFC 6570). */
function bindTemplate(t: ResourceTemplateDef, vars: Map<string, string>): JsonObject {
  const request: JsonObject = {};
  for (const [name, value] of vars) {
    const field = t.bindings.get(name);
    if (field) request[field.jsonName] = value;
  }
  return request;
}
