import type { Era } from "./exchange.js";
import { complete } from "./handlers/completion.js";
import { discover, initialize, ping, setLevel } from "./handlers/lifecycle.js";
import { getPrompt, listPrompts } from "./handlers/prompts.js";
import { listResources, listResourceTemplates, readResource } from "./handlers/resources.js";
import { listen, subscribe, unsubscribe } from "./handlers/subscriptions.js";
import { cancelTask, getTask, updateTask } from "./handlers/tasks.js";
import { callToolByName, listTools } from "./handlers/tools.js";
import type { Handler } from "./server-context.js";

/** What the gateway knows about one MCP method (MCP 2025-11-25 and 2026-07-28 schema, "Requests"). */
export interface MethodSpec {
  /** The eras the method exists in; in any other it is answered -32601 Method not found. */
  readonly eras: readonly Era[];
  /**
   * In 2026-07-28, a complete result may be cached by the client for this long
   * (`ttlMs`, with `cacheScope`; basic/utilities "Caching"). Absent: not cacheable.
   */
  readonly ttlMs?: number;
  /**
   * The params member the `Mcp-Name` header mirrors (MCP 2026-07-28
   * basic/transports "Request Headers"; `taskId` for tasks/*, SEP-2663
   * "Streamable HTTP: Routing Headers").
   */
  readonly nameParam?: "name" | "uri" | "taskId";
  /** Answers the method. */
  readonly handler: Handler;
}

/** How long clients may cache list results in 2026-07-28 (basic/utilities "Caching"). */
export const LIST_TTL_MS = 60_000;

const SESSION: readonly Era[] = ["session"];
const STATELESS: readonly Era[] = ["stateless"];
const BOTH: readonly Era[] = ["session", "stateless"];

/**
 * Every method the gateway serves, the one table of them: the transports and the
 * core read eras, caching and the `Mcp-Name` member here and nowhere else.
 */
export const METHODS: { readonly [method: string]: MethodSpec } = {
  // MCP 2025-11-25 basic/lifecycle; removed in 2026-07-28 with the session.
  initialize: { eras: SESSION, handler: initialize },
  // MCP 2026-07-28 basic/lifecycle: what initialize told, for clients without a session.
  "server/discover": { eras: STATELESS, ttlMs: LIST_TTL_MS, handler: discover },
  // Liveness of a session (basic/utilities/ping); without sessions there is nothing to keep alive.
  ping: { eras: SESSION, handler: ping },
  // A session-wide level; 2026-07-28 sets it per request in `_meta`.
  "logging/setLevel": { eras: SESSION, handler: setLevel },
  "tools/list": { eras: BOTH, ttlMs: LIST_TTL_MS, handler: listTools },
  "tools/call": { eras: BOTH, nameParam: "name", handler: callToolByName },
  "resources/list": { eras: BOTH, ttlMs: LIST_TTL_MS, handler: listResources },
  "resources/templates/list": { eras: BOTH, ttlMs: LIST_TTL_MS, handler: listResourceTemplates },
  // Cacheable, but for 0 ms: the backend answers anew every time, so clients should not keep it.
  "resources/read": { eras: BOTH, ttlMs: 0, nameParam: "uri", handler: readResource },
  // Session-bound subscriptions; 2026-07-28 replaces them with subscriptions/listen.
  "resources/subscribe": { eras: SESSION, handler: subscribe },
  "resources/unsubscribe": { eras: SESSION, handler: unsubscribe },
  "subscriptions/listen": { eras: STATELESS, handler: listen },
  "prompts/list": { eras: BOTH, ttlMs: LIST_TTL_MS, handler: listPrompts },
  "prompts/get": { eras: BOTH, nameParam: "name", handler: getPrompt },
  "completion/complete": { eras: BOTH, handler: complete },
  // Extension io.modelcontextprotocol/tasks (SEP-2663), defined for 2026-07-28 only; the
  // 2025-11-25 experimental tasks are not served (tasks/result and tasks/list stay unknown).
  "tasks/get": { eras: STATELESS, nameParam: "taskId", handler: getTask },
  "tasks/update": { eras: STATELESS, nameParam: "taskId", handler: updateTask },
  "tasks/cancel": { eras: STATELESS, nameParam: "taskId", handler: cancelTask },
};

/**
 * The method's entry when it exists in `era`, else undefined: the caller answers
 * -32601 Method not found (JSON-RPC 2.0 §5.1). Only the table's own keys count:
 * `constructor` or `__proto__` are not methods.
 */
export function methodSpec(method: string, era: Era): MethodSpec | undefined {
  const spec = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  return spec?.eras.includes(era) ? spec : undefined;
}

/**
 * The params member the `Mcp-Name` header of a method mirrors, e.g. `name` for
 * `tools/call`, `uri` for `resources/read`, `taskId` for `tasks/get`; undefined when the method has
 * none (MCP 2026-07-28 basic/transports "Request Headers").
 */
export function nameParam(method: string): string | undefined {
  return Object.hasOwn(METHODS, method) ? METHODS[method]?.nameParam : undefined;
}
