import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { CallContext, InputRequired, Outcome, StateSealer } from "../invoke/index.js";
import { McpErrorCode } from "./errors.js";
import type { Exchange } from "./exchange.js";
import { ErrorCode, JsonRpcError } from "./jsonrpc.js";

/**
 * How input requests are carried (MCP 2026-07-28 basic/utilities/mrtr): the key
 * that seals `requestState`, and the round limit of the session eras.
 */
export interface InputSettings {
  /** Seals and opens `requestState` (bound to the operation it was issued for). */
  readonly sealer: StateSealer;
  /** Rounds of input requests one session-era call may go through. */
  readonly maxRounds: number;
}

/** Client capability each input-request method needs (MCP 2026-07-28 basic/utilities/mrtr). */
const INPUT_CAPABILITY: { readonly [method: string]: string } = {
  "elicitation/create": "elicitation",
  "sampling/createMessage": "sampling",
  "roots/list": "roots",
};

/**
 * Runs an operation that may ask for input (MCP 2026-07-28 basic/utilities/mrtr).
 * Stateless: answers come in `inputResponses` + `requestState` and a request
 * for input is returned as an `input_required` result. Sessions: the gateway
 * asks the client itself (elicitation, sampling, roots) and calls again.
 * `binding` names the operation, so a state sealed for one cannot be replayed on another.
 */
export async function withInput<T extends object>(
  settings: InputSettings,
  binding: string,
  params: JsonObject,
  ex: Exchange,
  base: CallContext,
  run: (ctx: CallContext) => Promise<Outcome<T>>,
): Promise<T | { [k: string]: unknown }> {
  const answered = (input: CallContext["input"]) => (input ? { ...base, input } : base);
  if (ex.era === "stateless") {
    const out = await run(answered(incomingInput(settings, params, binding)));
    if ("done" in out) return out.done;
    return inputRequiredResult(settings, binding, out.input, ex.clientCapabilities);
  }
  let input: CallContext["input"];
  for (let round = 0; ; round++) {
    const out = await run(answered(input));
    if ("done" in out) return out.done;
    if (!ex.request) {
      throw new JsonRpcError(
        ErrorCode.InvalidRequest,
        "the backend needs input from the client, which requires accepting text/event-stream on this request",
      );
    }
    if (round >= settings.maxRounds) {
      throw new JsonRpcError(
        ErrorCode.InternalError,
        `the backend asked for input more than ${settings.maxRounds} times`,
      );
    }
    const ask = ex.request;
    const requests = admissible(out.input, ex.clientCapabilities);
    const entries = await Promise.all(
      Object.entries(requests).map(
        async ([key, r]) => [key, await ask(r.method, r.params, ex.signal)] as const,
      ),
    );
    input = { responses: Object.fromEntries(entries), state: out.input.state };
  }
}

/**
 * The `input_required` result of a stateless request (MCP 2026-07-28
 * basic/utilities/mrtr): the requests the client can answer, and the
 * backend's state sealed for the retry of the same operation.
 */
export function inputRequiredResult(
  settings: InputSettings,
  binding: string,
  input: InputRequired,
  capabilities: JsonObject,
): { [k: string]: unknown } {
  const requests = admissible(input, capabilities);
  const result: { [k: string]: unknown } = { resultType: "input_required", inputRequests: requests };
  if (input.state.length > 0) result.requestState = settings.sealer.seal(input.state, binding);
  return result;
}

/** The answers a stateless retry carries; a state that fails verification is refused. */
export function incomingInput(
  settings: InputSettings,
  params: JsonObject,
  binding: string,
): CallContext["input"] {
  const responses = params.inputResponses;
  const token = params.requestState;
  if (responses === undefined && token === undefined) return undefined;
  if (responses !== undefined && !isObjectOfObjects(responses)) {
    throw new JsonRpcError(ErrorCode.InvalidParams, "inputResponses must map each key to a result object");
  }
  let state: Uint8Array = new Uint8Array();
  if (token !== undefined) {
    const opened = typeof token === "string" ? settings.sealer.open(token, binding) : undefined;
    if (!opened)
      throw new JsonRpcError(ErrorCode.InvalidParams, "requestState is invalid, altered or expired");
    state = opened;
  }
  return { responses: (responses ?? {}) as { [key: string]: JsonObject }, state };
}

/**
 * The input requests a client with `capabilities` can answer; when none, a
 * MissingRequiredClientCapability error (MCP 2026-07-28 basic/lifecycle).
 */
export function admissible(input: InputRequired, capabilities: JsonObject): InputRequired["requests"] {
  const out: { [key: string]: InputRequired["requests"][string] } = {};
  const missing: { [k: string]: JsonObject } = {};
  for (const [key, r] of Object.entries(input.requests)) {
    const capability = INPUT_CAPABILITY[r.method];
    if (capability && capabilities[capability] === undefined) missing[capability] = {};
    else out[key] = r;
  }
  if (Object.keys(out).length === 0) {
    throw new JsonRpcError(
      McpErrorCode.MissingRequiredClientCapability,
      `The client lacks a capability this request needs: ${Object.keys(missing).join(", ") || "input"}`,
      { requiredCapabilities: missing },
    );
  }
  return out;
}

function isObjectOfObjects(v: JsonValue): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => typeof x === "object" && x !== null && !Array.isArray(x));
}
