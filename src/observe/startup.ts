import type { ToolDef } from "../catalog/index.js";
import type { Logger } from "./logger.js";

/** What the start-up line says about a gateway. */
export interface StartupSummary {
  /** The MCP endpoint. */
  readonly url: string;
  readonly backends: readonly { readonly name: string; readonly ready: boolean; readonly tools: number }[];
  /** The identity provider, when auth is on. */
  readonly issuer?: string;
  /** Where sessions live. */
  readonly store: "memory" | "redis";
  /** Where metrics are served, or `off`. */
  readonly metrics: string;
  /** Where the admin API (`admin_listen`) is served; absent: `off`. */
  readonly admin?: string;
  readonly tracing: boolean;
}

/** Logs the start-up line (`mcpengine listening`): where, which backends with how many tools, auth, store, metrics, admin API. */
export function logStartup(logger: Logger, summary: StartupSummary): void {
  const tools = summary.backends.reduce((n, b) => n + b.tools, 0);
  logger.info(
    {
      url: summary.url,
      tools,
      backends: summary.backends,
      auth: summary.issuer !== undefined ? "on" : "off",
      ...(summary.issuer !== undefined ? { issuer: summary.issuer } : {}),
      store: summary.store,
      metrics: summary.metrics,
      admin: summary.admin ?? "off",
      tracing: summary.tracing ? "on" : "off",
    },
    `mcpengine listening on ${summary.url}: ${plural(tools, "tool")} from ${plural(summary.backends.length, "backend")}`,
  );
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The names of a catalog's tools, as a set made once per catalog (the `tool` label's bound). */
const TOOL_NAMES = new WeakMap<readonly ToolDef[], ReadonlySet<string>>();

export function toolNames(tools: readonly ToolDef[]): ReadonlySet<string> {
  let names = TOOL_NAMES.get(tools);
  if (!names) {
    names = new Set(tools.map((t) => t.name));
    TOOL_NAMES.set(tools, names);
  }
  return names;
}
