import { type DescFile, type DescMessage, type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { operation_info } from "../../gen/es/google/longrunning/operations_pb.js";
import { CatalogError } from "./shared.js";

/** The full name of the long-running operation message (AIP-151). */
export const OPERATION_TYPE = "google.longrunning.Operation";

/** What an RPC returning a `google.longrunning.Operation` resolves to (`google.longrunning.operation_info`). */
export interface OperationTypes {
  /** The message a finished operation's `response` holds: the tool's result. */
  readonly response: DescMessage;
  /** The message its `metadata` holds (progress), when declared. */
  readonly metadata: DescMessage | undefined;
}

/**
 * The operation types of a unary RPC returning `google.longrunning.Operation`
 * (AIP-151), or undefined for any other RPC. `operation_info` names them by
 * full name or relative to the RPC's package; a name that resolves to no
 * message in the RPC's file or its imports is a catalog error naming it.
 * Without `operation_info` the RPC is an ordinary tool returning the Operation.
 */
export function operationTypesOf(method: DescMethod): OperationTypes | undefined {
  if (method.methodKind !== "unary" || method.output.typeName !== OPERATION_TYPE) return undefined;
  if (!hasOption(method, operation_info)) return undefined;
  const info = getOption(method, operation_info);
  const where = `${method.parent.typeName}.${method.name}`;
  if (!info.responseType) {
    throw new CatalogError("invalid_option", `${where}: operation_info.response_type is required`);
  }
  const resolve = (name: string, field: string): DescMessage => {
    const found = findMessage(method.parent.file, name, method.parent.file.proto.package);
    if (!found) {
      throw new CatalogError(
        "invalid_option",
        `${where}: operation_info.${field} "${name}" is not a message in its file or the files it imports`,
      );
    }
    return found;
  };
  return {
    response: resolve(info.responseType, "response_type"),
    metadata: info.metadataType ? resolve(info.metadataType, "metadata_type") : undefined,
  };
}

/** A message named `name` (full, or relative to `pkg`) in `file` or its imports, transitively. */
function findMessage(file: DescFile, name: string, pkg: string): DescMessage | undefined {
  const wanted = name.includes(".") ? [name, `${pkg}.${name}`] : [`${pkg}.${name}`, name];
  const seen = new Set<DescFile>();
  const queue = [file];
  for (let f = queue.shift(); f; f = queue.shift()) {
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of allMessages(f.messages)) if (wanted.includes(m.typeName)) return m;
    queue.push(...f.dependencies);
  }
  return undefined;
}

function* allMessages(messages: readonly DescMessage[]): Generator<DescMessage> {
  for (const m of messages) {
    yield m;
    yield* allMessages(m.nestedMessages);
  }
}
