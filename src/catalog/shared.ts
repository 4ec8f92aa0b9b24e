import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import {
  completion as completionOption,
  prompt as promptOption,
  resource as resourceOption,
  service as serviceOption,
  resource_subscription as subscriptionOption,
  resource_template as templateOption,
  tool as toolOption,
} from "../../gen/es/mcpengine/v1/options_pb.js";

// What the tool builder (tools.ts) and the surface builder (surface.ts) share: their input,
// their error and the option readers both consult. It lives here so neither builder imports
// the other (they used to import each other).

/** A backend's services, as found in its descriptors. */
export interface BackendServices {
  readonly backend: string;
  readonly services: readonly DescService[];
}

/** Raised at startup when the catalog cannot be built (e.g. duplicate tool names). */
export class CatalogError extends Error {
  override readonly name = "CatalogError";
  constructor(
    readonly code: "duplicate_tool" | "invalid_tool_name" | "invalid_option",
    message: string,
  ) {
    super(message);
  }
}

/**
 * OAuth scopes that guard an RPC in every form (tool, resource, prompt): its
 * `(mcpengine.v1.tool).scopes`, else the service's `default_scopes`
 * (MCP 2025-11-25 basic/authorization "Scope Challenge Handling").
 */
export function scopesOf(service: DescService, method: DescMethod): string[] {
  const own = hasOption(method, toolOption) ? getOption(method, toolOption).scopes : [];
  if (own.length > 0) return [...own];
  return hasOption(service, serviceOption) ? [...getOption(service, serviceOption).defaultScopes] : [];
}

/**
 * True when the method carries an MCPEngine option other than `tool`: it is a
 * resource, resource template, prompt, completion handler or resource watch
 * (MCP 2025-11-25 server/resources, server/prompts, server/utilities/completion).
 */
export function hasNonToolOption(method: DescMethod): boolean {
  return (
    hasOption(method, resourceOption) ||
    hasOption(method, templateOption) ||
    hasOption(method, promptOption) ||
    hasOption(method, completionOption) ||
    hasOption(method, subscriptionOption)
  );
}
