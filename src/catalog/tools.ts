import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { service as serviceOption, tool as toolOption } from "../../gen/es/mcpengine/v1/options_pb.js";
import { type JsonSchema, messageToJsonSchema } from "../schema/index.js";
import { leadingComment } from "./comments.js";
import { isValidToolName, snakeCase } from "./naming.js";
import { hasNonToolOption } from "./surface.js";

/** MCP tool annotations (MCP 2025-11-25, server/tools "ToolAnnotations"). */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** One MCP tool, bound to the RPC that implements it. */
export interface ToolDef {
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly annotations: ToolAnnotations;
  /** OAuth scopes a caller needs (method scopes, else the service's default scopes). */
  readonly scopes: readonly string[];
  readonly inputSchema: JsonSchema;
  /** Absent when the RPC answers in MCP content (mcpengine.v1.ToolResult / ToolEvent). */
  readonly outputSchema: JsonSchema | undefined;
  readonly method: DescMethod;
  /** Name of the backend serving the RPC. */
  readonly backend: string;
  /** The RPC streams its replies (server-streaming). */
  readonly streaming: boolean;
}

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
 * Builds the tool catalog from the backends' services. Every unary and
 * server-streaming RPC becomes a tool unless hidden; client- and bidi-streaming
 * RPCs have no MCP equivalent and are skipped. Order is deterministic: by tool name.
 */
export function buildTools(backends: readonly BackendServices[]): ToolDef[] {
  const byName = new Map<string, ToolDef>();
  for (const { backend, services } of backends) {
    for (const service of services) {
      for (const method of service.methods) {
        const def = toolFor(backend, service, method);
        if (!def) continue;
        const other = byName.get(def.name);
        if (other) {
          throw new CatalogError(
            "duplicate_tool",
            `tool name "${def.name}" is used by both ${describe(other)} and ${describe(def)}; ` +
              `set (mcpengine.v1.tool).name or (mcpengine.v1.service).tool_prefix to tell them apart`,
          );
        }
        byName.set(def.name, def);
      }
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function describe(def: ToolDef): string {
  return `${def.method.parent.typeName}.${def.method.name} (backend "${def.backend}")`;
}

function toolFor(backend: string, service: DescService, method: DescMethod): ToolDef | undefined {
  if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") return undefined;
  const svc = hasOption(service, serviceOption) ? getOption(service, serviceOption) : undefined;
  const own = hasOption(method, toolOption) ? getOption(method, toolOption) : undefined;
  if (own?.hidden || (svc?.hidden && !own)) return undefined;
  // An RPC declared as a resource, prompt or handler is a tool only when it says so.
  if (!own && hasNonToolOption(method)) return undefined;

  const name = own?.name || `${svc?.toolPrefix ?? ""}${snakeCase(method.name)}`;
  if (!isValidToolName(name)) {
    throw new CatalogError(
      "invalid_tool_name",
      `tool name "${name}" of ${service.typeName}.${method.name} is not a valid MCP tool name ` +
        `(1–128 characters of A-Z, a-z, 0-9, "_", "-", ".")`,
    );
  }
  const title = own?.title || undefined;
  const annotations: ToolAnnotations = {};
  if (title !== undefined) annotations.title = title;
  const noSideEffects = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
  const readOnly = own?.readOnlyHint ?? (noSideEffects ? true : undefined);
  if (readOnly !== undefined) annotations.readOnlyHint = readOnly;
  const idempotent =
    own?.idempotentHint ??
    (method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ? true : undefined);
  if (idempotent !== undefined) annotations.idempotentHint = idempotent;
  if (own?.destructiveHint !== undefined) annotations.destructiveHint = own.destructiveHint;
  if (own?.openWorldHint !== undefined) annotations.openWorldHint = own.openWorldHint;

  const scopes = own && own.scopes.length > 0 ? own.scopes : (svc?.defaultScopes ?? []);
  return {
    name,
    title,
    description: own?.description || leadingComment(method),
    annotations,
    scopes: [...scopes],
    inputSchema: messageToJsonSchema(method.input, { mode: "input" }),
    outputSchema: outputSchemaOf(method),
    method,
    backend,
    streaming: method.methodKind === "server_streaming",
  };
}

/**
 * The output schema of a tool. A server-streaming RPC's replies are collected
 * into `{ "messages": [...] }` because MCP requires `structuredContent` to be an
 * object (MCP 2025-11-25, server/tools "Structured Content").
 */
function outputSchemaOf(method: DescMethod): JsonSchema | undefined {
  const output = method.output.typeName;
  if (output === "mcpengine.v1.ToolResult" || output === "mcpengine.v1.ToolEvent") return undefined;
  const reply = messageToJsonSchema(method.output, { mode: "output" });
  if (method.methodKind !== "server_streaming") return reply;
  const { $defs, $schema, ...item } = reply;
  const wrapped: JsonSchema = {
    type: "object",
    properties: {
      messages: { type: "array", items: item, description: "Every message the RPC streamed, in order." },
    },
  };
  if ($schema !== undefined) wrapped.$schema = $schema;
  if ($defs !== undefined) wrapped.$defs = $defs;
  return wrapped;
}
