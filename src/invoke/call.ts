import {
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ToolDef } from "../catalog/index.js";
import type { BackendHandle, CallContext, Outcome, ProgressUpdate } from "./call-types.js";
import {
  type CallToolResult,
  logLevelName,
  structuredResult,
  toolErrorResult,
  toolResult,
  WellKnown,
} from "./content.js";
import { acquireAll, type InflightLimit, releaseAll, withinLimits } from "./inflight.js";
import { encodeInputResponses, findInputRequired, INPUT_HEADER } from "./input.js";
import { awaitOperation } from "./operations.js";
import { replyJson } from "./reply-json.js";
import { describeRpcError } from "./rich-status.js";
import { checkArguments } from "./strict-json.js";
import { SingleRequest } from "./wrap-transport.js";

/** Most messages collected from one server-streaming call; one more fails the call. */
const MAX_STREAM_MESSAGES = 10_000;
/** Default bound on the JSON collected from one server-streaming call. */
const MAX_RESULT_BYTES = 16 * 1024 * 1024;

/**
 * Invokes the RPC behind a tool: strict ProtoJSON decoding of the arguments,
 * protovalidate rules when the input declares any, the RPC, and a result with
 * `structuredContent` plus the same JSON as text. Bad arguments and backend
 * failures are tool execution errors (`isError: true`), per MCP 2025-11-25
 * server/tools "Error Handling". A chain of promises rather than nested
 * async functions: each of those added a promise and a turn of the microtask
 * queue to every call (the hot path).
 */
export function callTool(
  tool: ToolDef,
  args: unknown,
  backend: BackendHandle,
  ctx: CallContext = {},
): Promise<Outcome<CallToolResult>> {
  const decoded = decodeArguments(tool.method.input, args, backend.registry);
  if ("error" in decoded) {
    return done(toolErrorResult(`Invalid arguments for tool "${tool.name}": ${decoded.error}`));
  }
  const violations = backend.validator.validate(tool.method.input, decoded.message);
  if (violations) return done(toolErrorResult(`Invalid arguments for tool "${tool.name}":\n${violations}`));
  const limits = backend.limits ?? [];
  const full = acquireAll(limits);
  if (full) return done(toolErrorResult(busy(backend, full)));
  let call: Promise<CallToolResult>;
  try {
    call = tool.streaming
      ? callStreaming(tool, decoded.message, backend, ctx)
      : callUnary(tool, decoded.message, backend, ctx);
  } catch (err) {
    call = Promise.reject(err);
  }
  return call.then(
    (result) => {
      releaseAll(limits);
      return { done: result };
    },
    (err: unknown) => {
      releaseAll(limits);
      const rpcError = ConnectError.from(err);
      const input = findInputRequired(rpcError);
      if (input) return { input };
      return { done: toolErrorResult(describeRpcError(rpcError)) };
    },
  );
}

function done(result: CallToolResult): Promise<Outcome<CallToolResult>> {
  return Promise.resolve({ done: result });
}

/**
 * Calls a unary RPC with a request built from ProtoJSON (resources, prompts,
 * completions). Backend errors are thrown as `ConnectError`, except an
 * `InputRequired` detail, which is returned.
 */
export async function invokeUnary(
  method: DescMethod,
  request: JsonObject,
  backend: BackendHandle,
  ctx: CallContext = {},
): Promise<Outcome<JsonObject>> {
  if (!isUnary(method)) throw new Error(`${method.name} is not a unary method`);
  const message = fromJson(method.input, request, { registry: backend.registry });
  try {
    return await withinLimits(
      backend.limits ?? [],
      (full) => {
        throw new ConnectError(busy(backend, full), Code.ResourceExhausted);
      },
      async () => ({ done: await unary(method, message, backend, ctx) }),
    );
  } catch (err) {
    const rpcError = ConnectError.from(err);
    const input = findInputRequired(rpcError);
    if (input) return { input };
    throw rpcError;
  }
}

type Decoded = { message: MessageShape<DescMessage> } | { error: string };

function decodeArguments(input: DescMessage, args: unknown, registry: Registry): Decoded {
  if (args === undefined || args === null) args = {};
  if (typeof args !== "object" || Array.isArray(args)) return { error: "arguments must be a JSON object" };
  const problem = checkArguments(input, args);
  if (problem) return { error: problem };
  try {
    return { message: fromJson(input, args as JsonValue, { registry, ignoreUnknownFields: false }) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function callUnary(
  tool: ToolDef,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<CallToolResult> {
  const method = tool.method;
  if (!isUnary(method)) throw new Error(`${method.name} is not a unary method`);
  if (tool.operation) {
    // AIP-151: the reply is a handle on work that runs on; the result is what it produces.
    return unaryMessage(method, request, backend, ctx).then((op) => awaitOperation(tool, op, backend, ctx));
  }
  const wellKnown = method.output.typeName === WellKnown.ToolResult;
  return unaryMessage(method, request, backend, ctx).then((message) => {
    const json = replyJson(method.output, message, backend.registry);
    return wellKnown ? toolResult(json) : structuredResult(json);
  });
}

/** One unary RPC with the context's signal, deadline and metadata; the reply as ProtoJSON. */
async function unary(
  method: DescMethodUnary,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<JsonObject> {
  return replyJson(method.output, await unaryMessage(method, request, backend, ctx), backend.registry);
}

/** One unary RPC with the context's signal, deadline and metadata; the reply message. */
function unaryMessage(
  method: DescMethodUnary,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<MessageShape<DescMessage>> {
  return backend.transport
    .unary(method, ctx.signal, ctx.timeoutMs ?? backend.timeoutMs, requestHeaders(ctx), request)
    .then((res) => res.message);
}

function requestHeaders(ctx: CallContext): { [key: string]: string } | undefined {
  if (!ctx.input) return ctx.headers;
  return { ...ctx.headers, [INPUT_HEADER]: encodeInputResponses(ctx.input.responses, ctx.input.state) };
}

async function callStreaming(
  tool: ToolDef,
  request: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<CallToolResult> {
  const method = tool.method;
  if (!isServerStreaming(method)) throw new Error(`${method.name} is not a server-streaming method`);
  // Leaving the loop early (too many messages or bytes) ends the stream: the message iterator's
  // `return()` cancels the RPC, so no controller of our own is needed.
  const res = await backend.transport.stream(
    method,
    ctx.signal,
    ctx.timeoutMs ?? backend.timeoutMs,
    requestHeaders(ctx),
    new SingleRequest(request),
  );
  const events = method.output.typeName === WellKnown.ToolEvent;
  const messages: JsonValue[] = [];
  // Each message's JSON text, for the result's: serialized once (`structuredResult`).
  const texts: string[] = [];
  const limit = backend.maxResultBytes ?? MAX_RESULT_BYTES;
  let bytes = 0;
  let result: CallToolResult | undefined;
  for await (const msg of res.message) {
    const json = replyJson(method.output, msg, backend.registry);
    if (events) {
      result = relayEvent(json, ctx) ?? result;
      continue;
    }
    if (messages.length >= MAX_STREAM_MESSAGES) {
      // A result cut short must not pass for the whole one: stop the stream and say why.
      return toolErrorResult(
        `The result of tool "${tool.name}" exceeds ${MAX_STREAM_MESSAGES} messages from backend "${backend.name}"; the call was cancelled.`,
      );
    }
    const text = JSON.stringify(json);
    bytes += text.length;
    if (bytes > limit) {
      // Bounded memory: a backend may stream without end; stop it and say why.
      return toolErrorResult(
        `The result of tool "${tool.name}" exceeds ${limit} bytes after ${messages.length} messages from backend "${backend.name}"; the call was cancelled.`,
      );
    }
    messages.push(json);
    texts.push(text);
    ctx.onProgress?.({ progress: messages.length, message: text });
  }
  if (events) return result ?? { content: [] };
  return structuredResult({ messages }, `{"messages":[${texts.join(",")}]}`);
}

/** Passes a `ToolEvent`'s progress or log on; returns its result, if it is one. */
function relayEvent(event: JsonObject, ctx: CallContext): CallToolResult | undefined {
  const progress = event.progress as JsonObject | undefined;
  const log = event.log as JsonObject | undefined;
  const result = event.result as JsonObject | undefined;
  if (progress) {
    const update: ProgressUpdate = { progress: Number(progress.progress ?? 0) };
    if (progress.total !== undefined) update.total = Number(progress.total);
    if (typeof progress.message === "string" && progress.message) update.message = progress.message;
    ctx.onProgress?.(update);
  } else if (log) {
    const logger = typeof log.logger === "string" && log.logger ? log.logger : undefined;
    ctx.onLog?.(logLevelName(log.level), logger, log.data ?? null);
  } else if (result) return toolResult(result);
  return undefined;
}

function isUnary(m: DescMethod): m is DescMethodUnary {
  return m.methodKind === "unary";
}

function isServerStreaming(m: DescMethod): m is DescMethodStreaming {
  return m.methodKind === "server_streaming";
}

/** Why a call was refused for lack of a free slot; retryable. */
function busy(backend: BackendHandle, full: InflightLimit): string {
  return `Backend "${backend.name}" is busy: ${full.max} calls are in flight (max_inflight). This error is transient; the call may be retried.`;
}
