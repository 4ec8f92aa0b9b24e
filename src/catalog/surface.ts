import { type DescField, type DescMethod, getOption, hasOption, ScalarType } from "@bufbuild/protobuf";
import {
  CompleteRequestSchema,
  CompleteResponseSchema,
  ResourceUpdateSchema,
  WatchResourceRequestSchema,
} from "../../gen/es/mcpengine/v1/mcp_pb.js";
import {
  completion as completionOption,
  prompt as promptOption,
  resource as resourceOption,
  resource_subscription as subscriptionOption,
  resource_template as templateOption,
} from "../../gen/es/mcpengine/v1/options_pb.js";
import { FieldBehavior, fieldBehaviors, validateRules } from "../schema/rules.js";
import { leadingComment } from "./comments.js";
import { snakeCase } from "./naming.js";
import { type BackendServices, CatalogError, scopesOf } from "./shared.js";
import { compileUriTemplate, type UriTemplate } from "./uri-template.js";

/** An RPC bound to the backend that serves it. */
export interface Bound {
  readonly method: DescMethod;
  readonly backend: string;
  /** OAuth scopes a caller needs: the RPC's (tool option) scopes, else the service's default scopes. */
  readonly scopes: readonly string[];
}

/** A direct resource (MCP 2025-11-25 server/resources "Resource"). */
export interface ResourceDef extends Bound {
  readonly uri: string;
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly mimeType: string | undefined;
}

/** A resource template (MCP 2025-11-25 server/resources "Resource Templates"; RFC 6570). */
export interface ResourceTemplateDef extends Bound {
  readonly uriTemplate: string;
  readonly template: UriTemplate;
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly mimeType: string | undefined;
  /** Template variable → request field it fills. */
  readonly bindings: ReadonlyMap<string, DescField>;
}

/** One prompt argument (MCP 2025-11-25 server/prompts "PromptArgument"). */
export interface PromptArgument {
  readonly name: string;
  readonly description: string | undefined;
  readonly required: boolean;
  readonly field: DescField;
}

/** A prompt (MCP 2025-11-25 server/prompts "Prompt"). */
export interface PromptDef extends Bound {
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly arguments: readonly PromptArgument[];
}

/** Everything besides tools that a backend's services expose. */
export interface Surface {
  readonly resources: readonly ResourceDef[];
  readonly templates: readonly ResourceTemplateDef[];
  readonly prompts: readonly PromptDef[];
  /** The completion/complete handler, when one is declared. */
  readonly completion: Bound | undefined;
  /** The watch RPC behind resources/subscribe, when one is declared. */
  readonly subscription: Bound | undefined;
}

/**
 * Collects resources, resource templates, prompts, the completion handler and
 * the resource-watch RPC from the method options of every backend's services.
 * Duplicate URIs, template names, prompt names and handlers are startup errors.
 */
export function buildSurface(backends: readonly BackendServices[]): Surface {
  const resources = new Map<string, ResourceDef>();
  const templates = new Map<string, ResourceTemplateDef>();
  const prompts = new Map<string, PromptDef>();
  let completion: Bound | undefined;
  let subscription: Bound | undefined;

  for (const { backend, services } of backends) {
    for (const service of services) {
      for (const method of service.methods) {
        const scopes = scopesOf(service, method);
        if (hasOption(method, resourceOption)) {
          const def = resourceFor(backend, method, scopes);
          claim(resources, def.uri, def, "resource URI");
        }
        if (hasOption(method, templateOption)) {
          const def = templateFor(backend, method, scopes);
          claim(templates, def.name, def, "resource template name");
        }
        if (hasOption(method, promptOption)) {
          const def = promptFor(backend, method, scopes);
          claim(prompts, def.name, def, "prompt name");
        }
        if (hasOption(method, completionOption)) {
          expectSignature(method, CompleteRequestSchema.typeName, CompleteResponseSchema.typeName, "unary");
          if (completion) duplicate("completion handler", completion, { method, backend, scopes });
          completion = { method, backend, scopes };
        }
        if (hasOption(method, subscriptionOption)) {
          expectSignature(
            method,
            WatchResourceRequestSchema.typeName,
            ResourceUpdateSchema.typeName,
            "server_streaming",
          );
          if (subscription) {
            duplicate("resource subscription handler", subscription, { method, backend, scopes });
          }
          subscription = { method, backend, scopes };
        }
      }
    }
  }
  return {
    resources: sortBy([...resources.values()], (r) => r.uri),
    templates: sortBy([...templates.values()], (t) => t.name),
    prompts: sortBy([...prompts.values()], (p) => p.name),
    completion,
    subscription,
  };
}

function resourceFor(backend: string, method: DescMethod, scopes: string[]): ResourceDef {
  const opt = getOption(method, resourceOption);
  expectUnary(method, "resource");
  if (!opt.uri)
    throw new CatalogError("invalid_option", `${where(method)}: (mcpengine.v1.resource).uri is empty`);
  return {
    method,
    backend,
    scopes,
    uri: opt.uri,
    name: opt.name || snakeCase(method.name),
    title: opt.title || undefined,
    description: opt.description || leadingComment(method),
    mimeType: opt.mimeType || undefined,
  };
}

function templateFor(backend: string, method: DescMethod, scopes: string[]): ResourceTemplateDef {
  const opt = getOption(method, templateOption);
  expectUnary(method, "resource template");
  let template: UriTemplate;
  try {
    template = compileUriTemplate(opt.uriTemplate);
  } catch (err) {
    throw new CatalogError("invalid_option", `${where(method)}: ${(err as Error).message}`);
  }
  const bindings = new Map<string, DescField>();
  for (const variable of template.variables) {
    const field = method.input.fields.find((f) => f.name === variable || f.jsonName === variable);
    if (field?.fieldKind !== "scalar") {
      throw new CatalogError(
        "invalid_option",
        `${where(method)}: template variable {${variable}} has no scalar field of that name in ${method.input.typeName}`,
      );
    }
    bindings.set(variable, field);
  }
  return {
    method,
    backend,
    scopes,
    uriTemplate: opt.uriTemplate,
    template,
    name: opt.name || snakeCase(method.name),
    title: opt.title || undefined,
    description: opt.description || leadingComment(method),
    mimeType: opt.mimeType || undefined,
    bindings,
  };
}

function promptFor(backend: string, method: DescMethod, scopes: string[]): PromptDef {
  const opt = getOption(method, promptOption);
  expectUnary(method, "prompt");
  const args: PromptArgument[] = [];
  for (const field of method.input.fields) {
    // MCP prompt arguments are strings (server/prompts "PromptArgument").
    if (field.fieldKind !== "scalar" || field.scalar !== ScalarType.STRING) {
      throw new CatalogError(
        "invalid_option",
        `${where(method)}: prompt arguments must be string fields; ${field.name} is not`,
      );
    }
    args.push({
      name: field.jsonName,
      description: leadingComment(field),
      required: fieldBehaviors(field).has(FieldBehavior.Required) || validateRules(field)?.required === true,
      field,
    });
  }
  return {
    method,
    backend,
    scopes,
    name: opt.name || snakeCase(method.name),
    title: opt.title || undefined,
    description: opt.description || leadingComment(method),
    arguments: args,
  };
}

function expectUnary(method: DescMethod, what: string): void {
  if (method.methodKind !== "unary") {
    throw new CatalogError("invalid_option", `${where(method)}: a ${what} must be a unary RPC`);
  }
}

function expectSignature(method: DescMethod, input: string, output: string, kind: string): void {
  if (method.input.typeName !== input || method.output.typeName !== output || method.methodKind !== kind) {
    throw new CatalogError(
      "invalid_option",
      `${where(method)}: must be ${kind === "unary" ? "" : "server-streaming "}rpc (${input}) returns (${output})`,
    );
  }
}

function claim<T extends Bound>(map: Map<string, T>, key: string, def: T, what: string): void {
  const other = map.get(key);
  if (other) duplicate(`${what} "${key}"`, other, def);
  map.set(key, def);
}

function duplicate(what: string, a: Bound, b: Bound): never {
  throw new CatalogError("duplicate_tool", `${what} is declared by both ${describe(a)} and ${describe(b)}`);
}

function describe(b: Bound): string {
  return `${b.method.parent.typeName}.${b.method.name} (backend "${b.backend}")`;
}

function where(method: DescMethod): string {
  return `${method.parent.typeName}.${method.name}`;
}

function sortBy<T>(items: T[], key: (t: T) => string): T[] {
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
