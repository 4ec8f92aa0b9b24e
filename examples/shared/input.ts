import { type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { type InputRequest, InputRequired, InputResponses } from "../../gen/grpc-js/mcpengine/v1/mcp.js";
import { statusError } from "./rich-status.js";

/** Metadata entry in which the gateway passes the answers to an input request. */
const INPUT_METADATA = "mcpengine-input-bin";

/** The answers the gateway sent with this call (empty on a first call). */
export function inputOf(metadata: Metadata): InputResponses {
  const [raw] = metadata.get(INPUT_METADATA);
  return raw instanceof Buffer
    ? InputResponses.decode(raw)
    : { responses: {}, requestState: Buffer.alloc(0) };
}

/**
 * A FAILED_PRECONDITION error whose `google.rpc.Status` carries an
 * `mcpengine.v1.InputRequired` detail: the gateway asks the client (user,
 * model or roots) and calls again with the answers.
 */
export function inputRequired(requests: { [key: string]: InputRequest }, state?: string): ServiceError {
  const detail = InputRequired.encode({ requests, requestState: Buffer.from(state ?? "", "utf8") }).finish();
  const message = `input required: ${Object.keys(requests).join(", ")}`;
  return statusError(status.FAILED_PRECONDITION, message, "mcpengine.v1.InputRequired", detail);
}

/** An elicitation/create request for a form with the given string/boolean properties. */
export function elicit(
  message: string,
  properties: { [name: string]: object },
  required: string[],
): InputRequest {
  return {
    method: "elicitation/create",
    params: { message, requestedSchema: { type: "object", properties, required } },
  };
}

/** A sampling/createMessage request with one user text message. */
export function sample(text: string, maxTokens: number): InputRequest {
  return {
    method: "sampling/createMessage",
    params: { messages: [{ role: "user", content: { type: "text", text } }], maxTokens },
  };
}
