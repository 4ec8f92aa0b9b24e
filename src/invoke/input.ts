import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { create, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { type ConnectError, encodeBinaryHeader } from "@connectrpc/connect";
import { InputRequiredSchema, InputResponsesSchema } from "../../gen/es/mcpengine/v1/mcp_pb.js";

/** Metadata entry that carries the answers to an input request into the next call. */
export const INPUT_HEADER = "mcpengine-input-bin";

/** One request a backend wants the client to answer (elicitation, sampling, roots). */
export interface InputRequest {
  readonly method: string;
  readonly params: JsonObject;
}

/** What a backend asked for through a `mcpengine.v1.InputRequired` status detail. */
export interface InputRequired {
  readonly requests: { [key: string]: InputRequest };
  /** The backend's opaque state (empty when none). */
  readonly state: Uint8Array;
}

/** The `InputRequired` detail of a backend error, if it carries one. */
export function findInputRequired(err: ConnectError): InputRequired | undefined {
  const [detail] = err.findDetails(InputRequiredSchema);
  if (!detail) return undefined;
  const requests: { [key: string]: InputRequest } = {};
  for (const [key, r] of Object.entries(detail.requests)) {
    requests[key] = { method: r.method, params: r.params ?? {} };
  }
  return { requests, state: detail.requestState };
}

/** Encodes answers as the `mcpengine-input-bin` metadata value. */
export function encodeInputResponses(responses: { [key: string]: JsonObject }, state: Uint8Array): string {
  const msg = create(InputResponsesSchema, { requestState: state, responses });
  return encodeBinaryHeader(toBinary(InputResponsesSchema, msg));
}

/**
 * Seals request state for the 2026-07-28 input-required round trip (MCP
 * 2026-07-28, basic/utilities/mrtr "Request State"): the client must return it
 * unchanged, so it is MACed (HMAC-SHA256), bound to the operation it belongs
 * to, and expires.
 */
export interface StateSealer {
  seal(state: Uint8Array, binding: string): string;
  /** The state, or undefined when the token was altered, expired or belongs to another operation. */
  open(token: string, binding: string): Uint8Array | undefined;
}

/** Creates a sealer; without a key, a random one (state then survives only this process). */
export function createStateSealer(key?: Uint8Array, ttlMs = 10 * 60_000): StateSealer {
  const secret = key ?? randomBytes(32);
  const mac = (payload: string, binding: string) =>
    createHmac("sha256", secret).update(binding).update("\0").update(payload).digest();
  return {
    seal(state, binding) {
      const payload = `${Date.now() + ttlMs}.${Buffer.from(state).toString("base64url")}`;
      return `${payload}.${mac(payload, binding).toString("base64url")}`;
    },
    open(token, binding) {
      const cut = token.lastIndexOf(".");
      if (cut < 0) return undefined;
      const payload = token.slice(0, cut);
      const given = Buffer.from(token.slice(cut + 1), "base64url");
      const want = mac(payload, binding);
      if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
      const dot = payload.indexOf(".");
      if (Number(payload.slice(0, dot)) < Date.now()) return undefined;
      return Buffer.from(payload.slice(dot + 1), "base64url");
    },
  };
}
