import { type DescMessage, hasOption, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import {
  field as fieldRules,
  message as messageRules,
  oneof as oneofRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/** Checks decoded tool arguments against their protovalidate rules. */
export interface ArgumentValidator {
  /** Returns a readable list of violations, or `undefined` when the message is valid. */
  validate(desc: DescMessage, message: MessageShape<DescMessage>): string | undefined;
}

/**
 * Creates a validator that runs `@bufbuild/protovalidate` only for input types
 * that declare `buf.validate` rules somewhere in their tree; others pass at no cost.
 */
export function createArgumentValidator(registry: Registry): ArgumentValidator {
  let validator: Validator | undefined;
  const needsValidation = new Map<string, boolean>();
  return {
    validate(desc, message) {
      let needed = needsValidation.get(desc.typeName);
      if (needed === undefined) {
        needed = hasRules(desc, new Set());
        needsValidation.set(desc.typeName, needed);
      }
      if (!needed) return undefined;
      validator ??= createValidator({ registry });
      const result = validator.validate(desc, message);
      switch (result.kind) {
        case "valid":
          return undefined;
        case "invalid":
          return result.violations
            .map((v) => `- field "${pathToString(v.field) || "(message)"}": ${v.message}`)
            .join("\n");
        case "error":
          return `- the validation rules could not be evaluated: ${result.error.message}`;
      }
    },
  };
}

/** Whether a message or anything reachable from it carries `buf.validate` rules. */
function hasRules(desc: DescMessage, seen: Set<string>): boolean {
  if (seen.has(desc.typeName)) return false;
  seen.add(desc.typeName);
  if (hasOption(desc, messageRules)) return true;
  if (desc.oneofs.some((o) => hasOption(o, oneofRules))) return true;
  for (const f of desc.fields) {
    if (hasOption(f, fieldRules)) return true;
    const nested =
      f.fieldKind === "message" || f.fieldKind === "list" || f.fieldKind === "map" ? f.message : undefined;
    if (nested && hasRules(nested, seen)) return true;
  }
  return false;
}
