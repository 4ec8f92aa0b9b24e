import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Bound, PromptDef, ResourceDef, Surface, ToolDef } from "../catalog/index.js";
import type { BackendHandle } from "../invoke/index.js";
import { ErrorCode, JsonRpcError } from "./jsonrpc.js";
import { TASKS_EXTENSION } from "./tasks/wire.js";

/** The catalog's tools, surface and backends: what the server offers (MCP 2025-11-25 server/ "Overview"). */
export interface Catalog {
  readonly tools: readonly ToolDef[];
  readonly surface?: Surface;
  readonly backends: ReadonlyMap<string, BackendHandle>;
}

/** One item of a list result: what guards it, and its wire form (MCP 2025-11-25 server/tools, server/resources, server/prompts). */
export interface ListEntry {
  readonly def: Bound;
  readonly wire: { readonly [k: string]: unknown };
}

/** The list results, by the member they are returned in (`tools`, `resources`, `resourceTemplates`, `prompts`). */
export type ListKey = "tools" | "resources" | "resourceTemplates" | "prompts";

/** A list with its own `notifications/<list>/list_changed` (resources covers resource templates). */
export type ChangedList = "tools" | "resources" | "prompts";

/**
 * The lists whose wire forms differ between two views, so that only those are
 * announced (MCP 2025-11-25 server/tools, server/resources, server/prompts
 * "List Changed Notification"). Guards count too: a changed scope changes who sees an entry.
 */
export function changedLists(before: CatalogView, after: CatalogView): ChangedList[] {
  const same = (keys: readonly ListKey[]) =>
    keys.every((k) => signature(before.lists[k]) === signature(after.lists[k]));
  const changed: ChangedList[] = [];
  if (!same(["tools"])) changed.push("tools");
  if (!same(["resources", "resourceTemplates"])) changed.push("resources");
  if (!same(["prompts"])) changed.push("prompts");
  return changed;
}

function signature(entries: readonly ListEntry[]): string {
  return JSON.stringify(entries.map((e) => [e.wire, e.def.scopes]));
}

/**
 * Everything derived from a catalog, built once per catalog: lookups, wire
 * forms, capabilities. Never changed in place; a new catalog gets a new view.
 */
export interface CatalogView {
  readonly surface: Surface;
  readonly backends: ReadonlyMap<string, BackendHandle>;
  readonly toolsByName: ReadonlyMap<string, ToolDef>;
  readonly promptsByName: ReadonlyMap<string, PromptDef>;
  readonly resourcesByUri: ReadonlyMap<string, ResourceDef>;
  readonly lists: { readonly [K in ListKey]: readonly ListEntry[] };
  /**
   * MCP 2025-11-25 basic/lifecycle "Capability Negotiation". Every list may change while a
   * session lasts (a backend that comes up late, a reload), announced by notifications/<list>/list_changed.
   */
  readonly sessionCapabilities: JsonObject;
  /**
   * Stateless (MCP 2026-07-28 server/discover): list changes and resource
   * updates through subscriptions/listen; lists are cached for their ttlMs;
   * the tasks extension (SEP-2663 "Capability Negotiation"), for every catalog,
   * since tasks/get, tasks/update and tasks/cancel are always served.
   */
  readonly statelessCapabilities: JsonObject;
}

/** Builds the view of a catalog (MCP 2025-11-25 server/tools, server/resources, server/prompts). */
export function createCatalogView(catalog: Catalog): CatalogView {
  const surface: Surface = catalog.surface ?? {
    resources: [],
    templates: [],
    prompts: [],
    completion: undefined,
    subscription: undefined,
  };
  const lists = {
    tools: catalog.tools.map((t) => ({ def: t, wire: describeTool(t) })),
    resources: surface.resources.map((r) => ({
      def: r,
      wire: strip({
        uri: r.uri,
        name: r.name,
        title: r.title,
        description: r.description,
        mimeType: r.mimeType,
      }),
    })),
    resourceTemplates: surface.templates.map((t) => ({
      def: t,
      wire: strip({
        uriTemplate: t.uriTemplate,
        name: t.name,
        title: t.title,
        description: t.description,
        mimeType: t.mimeType,
      }),
    })),
    prompts: surface.prompts.map((p) => ({ def: p, wire: describePrompt(p) })),
  };
  const hasResources = surface.resources.length > 0 || surface.templates.length > 0;
  return {
    surface,
    backends: catalog.backends,
    toolsByName: new Map(catalog.tools.map((t) => [t.name, t])),
    promptsByName: new Map(surface.prompts.map((p) => [p.name, p])),
    resourcesByUri: new Map(surface.resources.map((r) => [r.uri, r])),
    lists,
    sessionCapabilities: strip({
      tools: { listChanged: true },
      resources: hasResources
        ? { subscribe: surface.subscription !== undefined, listChanged: true }
        : undefined,
      prompts: surface.prompts.length > 0 ? { listChanged: true } : undefined,
      completions: surface.completion ? {} : undefined,
      logging: {},
    }) as JsonObject,
    statelessCapabilities: strip({
      tools: { listChanged: true },
      resources: hasResources
        ? surface.subscription
          ? { subscribe: true, listChanged: true }
          : { listChanged: true }
        : undefined,
      prompts: surface.prompts.length > 0 ? { listChanged: true } : undefined,
      completions: surface.completion ? {} : undefined,
      logging: {},
      extensions: { [TASKS_EXTENSION]: {} },
    }) as JsonObject,
  };
}

/**
 * One page of a list (MCP 2025-11-25 server/utilities/pagination): the entries
 * from the cursor on, and a `nextCursor` when more follow.
 */
export function listPage(
  key: ListKey,
  entries: readonly ListEntry[],
  cursor: JsonValue | undefined,
  pageSize: number,
): { [k: string]: unknown } {
  const start = decodeCursor(cursor);
  const items = entries.slice(start, start + pageSize).map((e) => e.wire);
  const out: { [k: string]: unknown } = { [key]: items };
  if (start + pageSize < entries.length) out.nextCursor = encodeCursor(start + pageSize);
  return out;
}

/** The wire form of a tool in tools/list (MCP 2025-11-25 server/tools "Tool"). */
function describeTool(t: ToolDef): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = { name: t.name };
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  out.inputSchema = t.inputSchema;
  if (t.outputSchema !== undefined) out.outputSchema = t.outputSchema;
  if (Object.keys(t.annotations).length > 0) out.annotations = t.annotations;
  return out;
}

/** The wire form of a prompt in prompts/list (MCP 2025-11-25 server/prompts "Prompt"). */
function describePrompt(p: PromptDef): { [k: string]: unknown } {
  return strip({
    name: p.name,
    title: p.title,
    description: p.description,
    arguments: p.arguments.map((a) =>
      strip({ name: a.name, description: a.description, required: a.required }),
    ),
  });
}

/**
 * Opaque list cursors (MCP 2025-11-25 server/utilities/pagination "Cursors"):
 * an offset, encoded so clients do not build their own.
 */
function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString("base64url");
}

function decodeCursor(cursor: JsonValue | undefined): number {
  if (cursor === undefined || cursor === null) return 0;
  const m =
    typeof cursor === "string" ? /^o:(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString()) : null;
  if (!m) throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid cursor");
  return Number(m[1]);
}

/** Drops undefined members. */
function strip<T extends { [k: string]: unknown }>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
