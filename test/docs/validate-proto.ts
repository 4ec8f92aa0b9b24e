import { isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/**
 * The complete `buf/validate/validate.proto` as source text, printed from the descriptor that
 * `@bufbuild/protovalidate` ships: the repository's copy (`proto/buf/validate/`) holds only the
 * rules Smack uses, and readers of the docs take the full file from the Buf Schema Registry.
 * Messages, enums, fields, oneofs, extension ranges and extensions with their numbers are printed;
 * options and comments are left out (a compiler needs neither to read rules set in a snippet).
 */
export function fullValidateProto(): string {
  const file = file_buf_validate_validate.proto;
  const lines = ['syntax = "proto2";', `package ${file.package};`];
  for (const dep of file.dependency) lines.push(`import "${dep}";`);
  for (const e of file.enumType) lines.push(...printEnum(e, ""));
  for (const m of file.messageType) lines.push(...printMessage(m, ""));
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of file.extension) byExtendee.set(x.extendee, [...(byExtendee.get(x.extendee) ?? []), x]);
  for (const [extendee, fields] of byExtendee) {
    lines.push(`extend ${extendee} {`, ...fields.map((f) => `  ${printField(f)}`), "}");
  }
  return `${lines.join("\n")}\n`;
}

function printMessage(m: DescriptorProto, indent: string): string[] {
  const out = [`${indent}message ${m.name} {`];
  const inner = `${indent}  `;
  for (const e of m.enumType) out.push(...printEnum(e, inner));
  for (const n of m.nestedType) out.push(...printMessage(n, inner));
  // oneof_index is a proto2 optional field: 0 when unset, so presence tells the members apart.
  const oneofOf = (f: FieldDescriptorProto) =>
    isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) ? f.oneofIndex : undefined;
  for (const f of m.field) if (oneofOf(f) === undefined) out.push(`${inner}${printField(f)}`);
  m.oneofDecl.forEach((o, i) => {
    out.push(`${inner}oneof ${o.name} {`);
    for (const f of m.field.filter((x) => oneofOf(x) === i)) {
      // Members of a oneof carry no label.
      out.push(`${inner}  ${printField(f).replace(/^optional /, "")}`);
    }
    out.push(`${inner}}`);
  });
  for (const r of m.extensionRange) {
    out.push(`${inner}extensions ${r.start} to ${r.end >= 536870912 ? "max" : r.end - 1};`);
  }
  out.push(`${indent}}`);
  return out;
}

function printEnum(e: EnumDescriptorProto, indent: string): string[] {
  return [
    `${indent}enum ${e.name} {`,
    ...e.value.map((v) => `${indent}  ${v.name} = ${v.number};`),
    `${indent}}`,
  ];
}

function printField(f: FieldDescriptorProto): string {
  const label = f.label === FieldDescriptorProto_Label.REPEATED ? "repeated" : "optional";
  return `${label} ${typeOf(f)} ${f.name} = ${f.number};`;
}

function typeOf(f: FieldDescriptorProto): string {
  switch (f.type) {
    case FieldDescriptorProto_Type.MESSAGE:
    case FieldDescriptorProto_Type.ENUM:
    case FieldDescriptorProto_Type.GROUP:
      return f.typeName;
    default:
      return FieldDescriptorProto_Type[f.type].toLowerCase();
  }
}
