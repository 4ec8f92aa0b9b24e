import {
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  fromJson,
  type JsonValue,
  type MessageShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import { ConnectError, type Transport } from "@connectrpc/connect";
import type { ToolDef } from "../catalog/index.js";
import { describeRpcError } from "./rich-status.js";
import type { ArgumentValidator } from "./validate.js";

/** A content block of a tool result (MCP 2025-11-25, server/tools "Tool Result"). */
export interface TextContent {
  type: "text";
  text: string;
}

/** The result of `tools/call` (MCP 2025-11-25, server/tools "CallToolResult"). */
export interface CallToolResult {
  content: TextContent[];
  structuredContent?: { [k: string]: JsonValue };
  isError?: boolean;
}

/** A backend as the invoker sees it. */
export interface BackendHandle {
  readonly name: string;
  readonly transport: Transport;
  readonly registry: Registry;
  /** Deadline of every call in milliseconds, sent as `grpc-timeout`. */
  readonly timeoutMs: number;
  readonly validator: ArgumentValidator;
}

/** Per-call context: cancellation, metadata and streaming callbacks. */
export interface CallContext {
  readonly signal?: AbortSignal;
  /** Extra request metadata (identity, request ids). */
  readonly headers?: Headers;
  /** Called for each message of a server-streaming RPC, as ProtoJSON. */
  readonly onMessage?: (message: JsonValue, index: number) => void;
}

/** Upper bound on collected messages of one server-streaming call. */
const MAX_STREAM_MESSAGES = 10_000;

/**
 * Invokes the RPC behind a tool: strict ProtoJSON decoding of the arguments,
 * protovalidate rules when the input declares any, the RPC, and a result with
 * `structuredContent` plus the same JSON as text. Bad arguments and backend
 * failures are tool execution errors (`isError: true`), per MCP 2025-11-25
 * server/tools "Error Handling".
 */
export async function callTool(
  tool: ToolDef,
  args: unknown,
  backend: BackendHandle,
  ctx: CallContext = {},
): Promise<CallToolResult> {
  const decoded = decodeArguments(tool.method.input, args, backend.registry);
  if ("error" in decoded) return errorResult(`Invalid arguments for tool "${tool.name}": ${decoded.error}`);
  const violations = backend.validator.validate(tool.method.input, decoded.message);
  if (violations) return errorResult(`Invalid arguments for tool "${tool.name}":\n${violations}`);

  try {
    const structured = tool.streaming
      ? await callStreaming(tool, decoded.message, backend, ctx)
      : await callUnary(tool, decoded.message, backend, ctx);
    return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
  } catch (err) {
    return errorResult(describeRpcError(ConnectError.from(err)));
  }
}

type Decoded = { message: MessageShape<DescMessage> } | { error: string };

function decodeArguments(input: DescMessage, args: unknown, registry: Registry): Decoded {
  if (args === undefined || args === null) args = {};
  if (typeof args !== "object" || Array.isArray(args)) return { error: "arguments must be a JSON object" };
  try {
    return { message: fromJson(input, args as JsonValue, { registry, ignoreUnknownFields: false }) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

async function callUnary(
  tool: ToolDef,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<{ [k: string]: JsonValue }> {
  const method = tool.method;
  if (!isUnary(method)) throw new Error(`${method.name} is not a unary method`);
  const res = await backend.transport.unary(method, ctx.signal, backend.timeoutMs, ctx.headers, request);
  return toJsonObject(tool.method.output, res.message, backend.registry);
}

async function callStreaming(
  tool: ToolDef,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<{ [k: string]: JsonValue }> {
  const method = tool.method;
  if (!isServerStreaming(method)) throw new Error(`${method.name} is not a server-streaming method`);
  const abort = new AbortController();
  const onAbort = () => abort.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await backend.transport.stream(
      method,
      abort.signal,
      backend.timeoutMs,
      ctx.headers,
      single(request),
    );
    const messages: JsonValue[] = [];
    for await (const msg of res.message) {
      const json = toJsonObject(tool.method.output, msg, backend.registry);
      ctx.onMessage?.(json, messages.length);
      messages.push(json);
      if (messages.length >= MAX_STREAM_MESSAGES) {
        abort.abort();
        break;
      }
    }
    return { messages };
  } finally {
    ctx.signal?.removeEventListener("abort", onAbort);
  }
}

function isUnary(m: DescMethod): m is DescMethodUnary {
  return m.methodKind === "unary";
}

function isServerStreaming(m: DescMethod): m is DescMethodStreaming {
  return m.methodKind === "server_streaming";
}

async function* single<T>(value: T): AsyncIterable<T> {
  yield value;
}

function toJsonObject(desc: DescMessage, msg: MessageShape<DescMessage>, registry: Registry) {
  return toJson(desc, msg, { registry }) as { [k: string]: JsonValue };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}
