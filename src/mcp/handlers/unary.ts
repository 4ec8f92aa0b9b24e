import type { JsonObject } from "@bufbuild/protobuf";
import type { Bound } from "../../catalog/index.js";
import { type CallContext, invokeUnary, type Outcome } from "../../invoke/index.js";
import { backendError, type ErrorSite } from "../errors.js";
import type { ServerContext } from "../server-context.js";

/**
 * Calls the unary RPC behind a resource, prompt or completion. Unlike tool
 * failures, backend failures here are JSON-RPC errors (MCP 2025-11-25
 * server/resources, server/prompts, server/utilities/completion "Error
 * Handling"), mapped by {@link backendError}.
 */
export async function invokeBound(
  ctx: ServerContext,
  def: Bound,
  request: JsonObject,
  call: CallContext,
  site: ErrorSite,
): Promise<Outcome<JsonObject>> {
  try {
    // The backend lookup sits inside the try on purpose: a backend missing from the
    // catalog is reported like a failing one (UNKNOWN → internal error), as it always was.
    return await invokeUnary(def.method, request, ctx.backendOf(def), call);
  } catch (err) {
    throw backendError(err, site);
  }
}
