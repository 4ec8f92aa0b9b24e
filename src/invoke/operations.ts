import { type DescMessage, fromBinary, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Operation, Operations } from "../../gen/es/google/longrunning/operations_pb.js";
import type { OperationTypes, ToolDef } from "../catalog/index.js";
import type { BackendHandle, CallContext, ProgressUpdate } from "./call-types.js";
import { type CallToolResult, structuredResult, toolErrorResult } from "./content.js";
import { statusError } from "./grpc-status.js";
import { replyJson } from "./reply-json.js";
import { describeRpcError } from "./rich-status.js";

/** A long-running operation as a tool call sees it (AIP-151). */
export type OperationState =
  | {
      readonly done: false;
      readonly name: string;
      /** The operation's metadata as ProtoJSON (progress), when it has any. */
      readonly metadata?: JsonObject;
    }
  | { readonly done: true; readonly name: string; readonly result: CallToolResult };

/** First wait between two GetOperation calls; it doubles up to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 2_000;

/**
 * The state of `op` for `tool`: not done (with its metadata), or done with
 * the tool result a unary reply of the response type would give — the
 * response unpacked from its `Any` as `structuredContent` plus text — or,
 * for an `error`, the tool error a backend failure gives (MCP 2025-11-25
 * server/tools "Error Handling": the tool ran and reports a failure).
 */
export function operationState(tool: ToolDef, op: Operation, backend: BackendHandle): OperationState {
  const types = typesOf(tool);
  if (!op.done) {
    const metadata = op.metadata && types.metadata ? unpack(types.metadata, op.metadata, backend) : undefined;
    return { done: false, name: op.name, ...(metadata ? { metadata } : {}) };
  }
  if (op.result.case === "error") {
    return {
      done: true,
      name: op.name,
      result: toolErrorResult(describeRpcError(statusError(op.result.value))),
    };
  }
  if (op.result.case !== "response") {
    return {
      done: true,
      name: op.name,
      result: toolErrorResult(
        `Operation ${op.name} of tool "${tool.name}" is done but holds neither a response nor an error.`,
      ),
    };
  }
  const json = unpack(types.response, op.result.value, backend);
  if (!json) {
    return {
      done: true,
      name: op.name,
      result: toolErrorResult(
        `Operation ${op.name} of tool "${tool.name}" answered ${op.result.value.typeUrl}, not ${types.response.typeName} (operation_info.response_type).`,
      ),
    };
  }
  return { done: true, name: op.name, result: structuredResult(json) };
}

/** `google.longrunning.Operations/GetOperation` on the tool's backend. */
export async function getOperation(
  tool: ToolDef,
  name: string,
  backend: BackendHandle,
  ctx: CallContext = {},
): Promise<OperationState> {
  const res = await backend.transport.unary(
    Operations.method.getOperation,
    ctx.signal,
    backend.timeoutMs,
    ctx.headers,
    { $typeName: "google.longrunning.GetOperationRequest", name },
  );
  return operationState(tool, res.message, backend);
}

/** `google.longrunning.Operations/CancelOperation`: asks the backend to stop (best effort, AIP-151). */
export async function cancelOperation(
  name: string,
  backend: BackendHandle,
  headers?: { readonly [key: string]: string },
): Promise<void> {
  await backend.transport.unary(Operations.method.cancelOperation, undefined, backend.timeoutMs, headers, {
    $typeName: "google.longrunning.CancelOperationRequest",
    name,
  });
}

/**
 * Waits for the operation a call started: polls GetOperation (100 ms, doubling up to 2 s) until it
 * is done, reporting each metadata as progress, within the call's deadline. When the caller goes
 * away (`ctx.signal`) the backend is asked to cancel the operation; past the deadline the result is
 * a tool error naming the operation, which runs on.
 */
export async function awaitOperation(
  tool: ToolDef,
  first: MessageShape<DescMessage>,
  backend: BackendHandle,
  ctx: CallContext,
): Promise<CallToolResult> {
  let state = operationState(tool, first as Operation, backend);
  if (!state.done) ctx.onOperation?.(state.name);
  const deadline = Date.now() + (ctx.timeoutMs ?? backend.timeoutMs);
  let wait = FIRST_POLL_MS;
  let polls = 0;
  try {
    while (!state.done) {
      if (state.metadata) ctx.onProgress?.(progressOf(++polls, state.metadata));
      const left = deadline - Date.now();
      if (left <= 0) {
        return toolErrorResult(
          `Operation ${state.name} of tool "${tool.name}" is still running after the call's deadline; it runs on at the backend.`,
        );
      }
      if (!(await sleep(Math.min(wait, left), ctx.signal))) {
        throw new ConnectError("the call was cancelled", Code.Canceled);
      }
      wait = Math.min(wait * 2, MAX_POLL_MS);
      state = await getOperation(tool, state.name, backend, ctx);
    }
  } catch (err) {
    // The caller went away (during a wait or a poll): nobody will read the result, unless
    // the run is handed over (the task's operation is polled from another replica).
    if (ctx.signal?.aborted && !state.done && !ctx.keepOperation?.()) {
      await cancelOperation(state.name, backend, ctx.headers).catch(() => {});
    }
    throw err;
  }
  return state.result;
}

function progressOf(step: number, metadata: JsonObject): ProgressUpdate {
  return { progress: step, message: JSON.stringify(metadata) };
}

function typesOf(tool: ToolDef): OperationTypes {
  if (!tool.operation) throw new Error(`tool "${tool.name}" does not start a long-running operation`);
  return tool.operation;
}

/** `any` as ProtoJSON of `desc` when it holds that type, else undefined. */
function unpack(desc: DescMessage, any: Any, backend: BackendHandle): JsonObject | undefined {
  const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  if (typeName !== desc.typeName) return undefined;
  return replyJson(desc, fromBinary(desc, any.value), backend.registry);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
