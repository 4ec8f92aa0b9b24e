import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * Translation of the well-known messages in proto/mcpengine/v1/mcp.proto from
 * their ProtoJSON form to MCP wire objects (MCP 2025-11-25 schema:
 * ContentBlock, ResourceContents, PromptMessage, LoggingMessageNotification).
 */

/** Type names of the well-known messages the gateway translates. */
export const WellKnown = {
  ToolResult: "mcpengine.v1.ToolResult",
  ToolEvent: "mcpengine.v1.ToolEvent",
  ResourceResult: "mcpengine.v1.ResourceResult",
  PromptResult: "mcpengine.v1.PromptResult",
} as const;

type Json = { [k: string]: JsonValue };

/** One MCP content block (server/tools "Tool Result"; text, image, audio, resource, resource_link). */
export type ContentBlock = { type: string; [k: string]: unknown };

/** The result of `tools/call` (MCP 2025-11-25, server/tools "CallToolResult"). */
export interface CallToolResult {
  content: ContentBlock[];
  structuredContent?: JsonObject;
  isError?: boolean;
}

/** A `mcpengine.v1.Content` (ProtoJSON) as an MCP content block. */
export function contentBlock(c: Json): ContentBlock {
  let block: ContentBlock;
  const text = c.text as Json | undefined;
  const image = c.image as Json | undefined;
  const audio = c.audio as Json | undefined;
  const resource = c.resource as Json | undefined;
  const link = c.resourceLink as Json | undefined;
  if (text) block = { type: "text", text: str(text.text) };
  else if (image) block = { type: "image", data: str(image.data), mimeType: str(image.mimeType) };
  else if (audio) block = { type: "audio", data: str(audio.data), mimeType: str(audio.mimeType) };
  else if (resource)
    block = { type: "resource", resource: resourceContents((resource.resource as Json) ?? {}) };
  else if (link) {
    block = { type: "resource_link", uri: str(link.uri), name: str(link.name) };
    copyStrings(link, block, ["title", "description", "mimeType"]);
    if (link.size !== undefined) block.size = Number(link.size);
  } else block = { type: "text", text: "" };
  const ann = c.annotations as Json | undefined;
  if (ann) {
    const out: { [k: string]: unknown } = {};
    if (Array.isArray(ann.audience) && ann.audience.length > 0) out.audience = ann.audience;
    if (ann.priority !== undefined) out.priority = Number(ann.priority);
    if (typeof ann.lastModified === "string" && ann.lastModified) out.lastModified = ann.lastModified;
    if (Object.keys(out).length > 0) block.annotations = out;
  }
  return block;
}

/** A `mcpengine.v1.ResourceContents` as MCP TextResourceContents / BlobResourceContents. */
export function resourceContents(r: Json): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = { uri: str(r.uri) };
  if (typeof r.mimeType === "string" && r.mimeType) out.mimeType = r.mimeType;
  if (typeof r.blob === "string") out.blob = r.blob;
  else out.text = str(r.text);
  return out;
}

/** The JSON text of results' structured content, by result (see {@link structuredText}). */
const LARGE_TEXT = 16 * 1024;
const structuredTexts = new WeakMap<CallToolResult, { readonly of: JsonObject; readonly text: string }>();

/**
 * A plain reply: `structuredContent` plus the same JSON as text (MCP 2025-11-25
 * server/tools "Structured Content"); `text`, when given, must be `json`'s JSON.
 */
export function structuredResult(json: JsonObject, text = JSON.stringify(json)): CallToolResult {
  const result = { content: [{ type: "text", text }], structuredContent: json };
  // Kept for large results only: for a small one, serializing it again costs less than splicing.
  if (text.length >= LARGE_TEXT) structuredTexts.set(result, { of: json, text });
  return result;
}

/**
 * The JSON text of a result's `structuredContent`, when {@link structuredResult}
 * made it, it is large (16 KiB or more), and the content is still the object
 * it serialized: the text block
 * holds the same JSON, so a response can carry it without serializing the
 * content a second time (`messageText` in src/http).
 */
export function structuredText(result: object): string | undefined {
  const kept = structuredTexts.get(result as CallToolResult);
  return kept !== undefined && kept.of === (result as CallToolResult).structuredContent
    ? kept.text
    : undefined;
}

/** A tool execution error the model can read (MCP 2025-11-25 server/tools "Error Handling"). */
export function toolErrorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/** A `mcpengine.v1.ToolResult` as a CallToolResult. */
export function toolResult(r: Json): CallToolResult {
  const content = Array.isArray(r.content) ? r.content.map((c) => contentBlock(c as Json)) : [];
  const out: CallToolResult = { content };
  if (r.structuredContent && typeof r.structuredContent === "object") {
    out.structuredContent = r.structuredContent as JsonObject;
  }
  if (r.isError === true) out.isError = true;
  return out;
}

/** A `mcpengine.v1.PromptResult` as a GetPromptResult (server/prompts). */
export function promptResult(r: Json): { description?: string; messages: unknown[] } {
  const messages = Array.isArray(r.messages)
    ? r.messages.map((m) => {
        const msg = m as Json;
        return {
          role: msg.role === "ROLE_ASSISTANT" ? "assistant" : "user",
          content: contentBlock((msg.content as Json) ?? {}),
        };
      })
    : [];
  return typeof r.description === "string" && r.description
    ? { description: r.description, messages }
    : { messages };
}

/** RFC 5424 severities as MCP names them (server/utilities/logging "Log Levels"), least severe first. */
export const LOG_LEVELS = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
] as const;

/** An MCP log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The MCP name of a `mcpengine.v1.LogLevel` (ProtoJSON enum name); unspecified is `info`. */
export function logLevelName(v: JsonValue | undefined): LogLevel {
  const name = typeof v === "string" ? v.replace(/^LOG_LEVEL_/, "").toLowerCase() : "";
  return (LOG_LEVELS as readonly string[]).includes(name) ? (name as LogLevel) : "info";
}

/** Reports whether a message at `level` passes a client's minimum level. */
export function passesLevel(level: LogLevel, minimum: LogLevel | undefined): boolean {
  return minimum !== undefined && LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(minimum);
}

function str(v: JsonValue | undefined): string {
  return typeof v === "string" ? v : "";
}

function copyStrings(from: Json, to: { [k: string]: unknown }, keys: readonly string[]): void {
  for (const k of keys) {
    const v = from[k];
    if (typeof v === "string" && v) to[k] = v;
  }
}
