import { type DescMethod, type DescService, getOption, hasOption, ScalarType } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  field as fieldOption,
  service as serviceOption,
  TaskSupport,
  type Tool,
  tool as toolOption,
} from "../../gen/es/mcpengine/v1/options_pb.js";
import { type JsonSchema, messageToJsonSchema } from "../schema/index.js";
import { leadingComment } from "./comments.js";
import { isValidToolName, snakeCase } from "./naming.js";
import { type OperationTypes, operationTypesOf } from "./operations.js";
import { type BackendServices, CatalogError, hasNonToolOption, scopesOf } from "./shared.js";

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
  /** Arguments mirrored into `Mcp-Param-<header>` request headers (MCP 2026-07-28). */
  readonly headerParams: readonly HeaderParam[];
  /** Whether a call may run as an MCP task (`(mcpengine.v1.tool).task`, extension io.modelcontextprotocol/tasks). */
  readonly task: ToolTaskSupport;
  /**
   * For an RPC returning a `google.longrunning.Operation` with `operation_info` (AIP-151): the
   * types its operation resolves to. The tool's result is then the operation's response.
   */
  readonly operation?: OperationTypes;
}

/**
 * Whether a tool call may run as an MCP task (SEP-2663): `never` always
 * synchronously; `optional` as a task when the request declares the extension;
 * `required` as a task, refusing 2026-07-28 requests without the extension.
 */
export type ToolTaskSupport = "never" | "optional" | "required";

/** A tool argument mirrored into an HTTP header (`x-mcp-header`). */
export interface HeaderParam {
  /** The argument's JSON name. */
  readonly argument: string;
  /** The header name's suffix: the header is `Mcp-Param-<header>`. */
  readonly header: string;
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

  const scopes = scopesOf(service, method);
  const operation = operationTypesOf(method);
  const inputSchema = messageToJsonSchema(method.input, { mode: "input" });
  const headerParams = headerParamsOf(method, inputSchema);
  return {
    name,
    title,
    description: own?.description || leadingComment(method),
    annotations,
    scopes,
    inputSchema,
    outputSchema: operation
      ? messageToJsonSchema(operation.response, { mode: "output" })
      : outputSchemaOf(method),
    method,
    backend,
    streaming: method.methodKind === "server_streaming",
    headerParams,
    task: taskSupportOf(own, method, operation !== undefined),
    ...(operation ? { operation } : {}),
  };
}

/**
 * `(mcpengine.v1.tool).task`, or the default for the RPC's kind: a unary RPC
 * answers within one request (never a task), a server-streaming one or one
 * starting a long-running operation may run long enough to be worth one (optional).
 */
function taskSupportOf(own: Tool | undefined, method: DescMethod, operation: boolean): ToolTaskSupport {
  const declared = own?.task ?? TaskSupport.UNSPECIFIED;
  switch (declared) {
    case TaskSupport.NEVER:
      return "never";
    case TaskSupport.OPTIONAL:
      return "optional";
    case TaskSupport.REQUIRED:
      return "required";
    case TaskSupport.UNSPECIFIED:
      return method.methodKind === "server_streaming" || operation ? "optional" : "never";
    default:
      // A number this build does not know (a newer descriptor): the safe reading.
      return "never";
  }
}

/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Collects `(mcpengine.v1.field).header` of the request's top-level fields and
 * marks them with `x-mcp-header` in the input schema (MCP 2026-07-28
 * server/tools "x-mcp-header": primitive, statically reachable, unique token).
 */
function headerParamsOf(method: DescMethod, schema: JsonSchema): HeaderParam[] {
  const params: HeaderParam[] = [];
  const seen = new Set<string>();
  const properties = schema.properties as { [k: string]: JsonSchema } | undefined;
  for (const field of method.input.fields) {
    if (!hasOption(field, fieldOption)) continue;
    const header = getOption(field, fieldOption).header;
    if (!header) continue;
    const where = `${method.input.typeName}.${field.name}`;
    const primitive =
      field.fieldKind === "scalar" &&
      field.scalar !== ScalarType.BYTES &&
      field.scalar !== ScalarType.DOUBLE &&
      field.scalar !== ScalarType.FLOAT;
    if (!primitive) {
      throw new CatalogError(
        "invalid_option",
        `${where}: a header must mirror a string, bool or integer field`,
      );
    }
    if (!TOKEN.test(header) || seen.has(header.toLowerCase())) {
      throw new CatalogError(
        "invalid_option",
        `${where}: header "${header}" is not a token unique in the request`,
      );
    }
    seen.add(header.toLowerCase());
    const property = properties?.[field.jsonName];
    if (properties && property) properties[field.jsonName] = { ...property, "x-mcp-header": header };
    params.push({ argument: field.jsonName, header });
  }
  return params;
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
