import type {
  DescEnum,
  DescEnumValue,
  DescField,
  DescMessage,
  DescMethod,
  DescService,
} from "@bufbuild/protobuf";

type Commented = DescMessage | DescField | DescEnum | DescEnumValue | DescService | DescMethod;

/**
 * Field numbers that make up a SourceCodeInfo location path
 * (descriptor.proto, "SourceCodeInfo.Location.path"), per containing message.
 */
const FILE = { message: 4, enum: 5, service: 6 } as const;
const MESSAGE = { field: 2, nested: 3, enum: 4 } as const;
const ENUM_VALUE = 2;
const SERVICE_METHOD = 2;

/** The SourceCodeInfo path of a descriptor element. */
function pathOf(desc: Commented): number[] {
  switch (desc.kind) {
    case "service":
      return [FILE.service, desc.file.services.indexOf(desc)];
    case "rpc":
      return [...pathOf(desc.parent), SERVICE_METHOD, desc.parent.methods.indexOf(desc)];
    case "message":
      return desc.parent
        ? [...pathOf(desc.parent), MESSAGE.nested, desc.parent.nestedMessages.indexOf(desc)]
        : [FILE.message, desc.file.messages.indexOf(desc)];
    case "field":
      return [...pathOf(desc.parent), MESSAGE.field, desc.parent.proto.field.indexOf(desc.proto)];
    case "enum":
      return desc.parent
        ? [...pathOf(desc.parent), MESSAGE.enum, desc.parent.nestedEnums.indexOf(desc)]
        : [FILE.enum, desc.file.enums.indexOf(desc)];
    case "enum_value":
      return [...pathOf(desc.parent), ENUM_VALUE, desc.parent.values.indexOf(desc)];
  }
}

/**
 * Returns the leading comment of a descriptor element, trimmed, or `undefined`
 * when the descriptors carry no source info (e.g. reflection without it).
 */
export function leadingComment(desc: Commented): string | undefined {
  const info =
    desc.kind === "rpc" ? desc.parent.file.proto.sourceCodeInfo : fileOf(desc).proto.sourceCodeInfo;
  if (!info) return undefined;
  const path = pathOf(desc);
  for (const loc of info.location) {
    if (loc.path.length === path.length && loc.path.every((n, i) => n === path[i])) {
      const text = tidy(loc.leadingComments);
      return text === "" ? undefined : text;
    }
  }
  return undefined;
}

function fileOf(desc: Exclude<Commented, DescMethod>) {
  return desc.kind === "enum_value" ? desc.parent.file : desc.kind === "field" ? desc.parent.file : desc.file;
}

/** Strips the single leading space protoc keeps on every comment line. */
function tidy(comment: string): string {
  return comment
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.slice(1) : line))
    .filter((line) => !LINT_DIRECTIVE.test(line))
    .join("\n")
    .trim();
}

/** A `buf lint` directive in a comment (`// buf:lint:ignore RULE`): for the linter, not for readers. */
const LINT_DIRECTIVE = /^\s*buf:lint:ignore\b/;
