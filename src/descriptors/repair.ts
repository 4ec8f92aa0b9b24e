import { clone } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import {
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { DescriptorError } from "./errors.js";
import { wellKnownFile, wellKnownFiles } from "./well-known.js";

/**
 * Makes the files a server's reflection sent usable as they stand, the way
 * real servers send them. grpc-node's `@grpc/reflection` (files built by
 * protobuf.js) names files after packages (`mcpengine_interop_v1.proto`),
 * leaves every import list empty, writes type references relative to their
 * scope (`Tag`, `types.v1.Priority`) and merges the well-known types into one
 * `google_protobuf.proto`. So, on a copy of the files:
 *
 * - type references are resolved with protobuf's scoping rules (language
 *   guide, "Packages and Name Resolution": innermost scope first) and written
 *   fully qualified;
 * - well-known types served under another file name are taken from the bundled
 *   `google/protobuf/*.proto` instead;
 * - each file's imports are rebuilt from the types it refers to, where missing;
 * - fields without a `json_name` (protoc always writes one; protobuf.js does
 *   not) get protoc's default, the lowerCamelCase of the field name;
 * - a one-field oneof named `_<field>` without `proto3_optional` (protobuf.js
 *   drops the flag) becomes the proto3 `optional` field protoc synthesized it for.
 *
 * Well-formed files come back unchanged. A reference that resolves nowhere is a
 * {@link DescriptorError} naming the origin, the file, the field and the type.
 */
export function repairFiles(files: readonly FileDescriptorProto[], origin: string): FileDescriptorProto[] {
  const byName = new Map<string, FileDescriptorProto>();
  for (const f of files) if (!byName.has(f.name)) byName.set(f.name, f);
  if ([...byName.values()].every((f) => wellFormed(f, byName))) return [...byName.values()];

  const out = new Map<string, FileDescriptorProto>();
  for (const f of byName.values()) {
    const copy = clone(FileDescriptorProtoSchema, f);
    if (copy.package === "google.protobuf" && !wellKnownFile(copy.name)) dropWellKnown(copy);
    if (copy.messageType.length + copy.enumType.length + copy.service.length + copy.extension.length > 0) {
      out.set(copy.name, copy);
    }
  }
  // Every type defined anywhere, by full name (with the leading dot), and the file defining it.
  const owner = new Map<string, string>();
  for (const wkt of wellKnownFiles()) indexTypes(wkt, owner);
  for (const f of out.values()) indexTypes(f, owner);

  for (const f of out.values()) {
    const needed = new Set<string>();
    const resolve = (ref: string, scope: string, what: string): string => {
      const full = resolveName(ref, scope, owner);
      const file = full === undefined ? undefined : owner.get(full);
      if (full === undefined || file === undefined) {
        throw new DescriptorError(
          "incomplete",
          `${origin}: file "${f.name}": type "${ref}" used by ${what} is not in the descriptors the server sent`,
        );
      }
      if (file !== f.name) needed.add(file);
      return full;
    };
    const pkg = f.package ? `.${f.package}` : "";
    walkMessages(f.messageType, pkg, (m, scope) => {
      for (const field of m.field) repairField(field, scope, resolve);
      for (const x of m.extension) repairField(x, scope, resolve);
      markProto3Optional(f, m);
    });
    for (const x of f.extension) repairField(x, pkg, resolve);
    for (const s of f.service) {
      for (const m of s.method) {
        const what = `method ${f.package}.${s.name}.${m.name}`;
        m.inputType = resolve(m.inputType, pkg, what);
        m.outputType = resolve(m.outputType, pkg, what);
      }
    }
    // Declared imports stay, present or not: a missing one is still reported by the registry builder.
    const deps = new Set(f.dependency);
    for (const d of needed) deps.add(d);
    f.dependency = [...deps];
    for (const d of f.dependency) {
      const wkt = wellKnownFile(d);
      if (wkt && !out.has(d)) out.set(d, wkt);
    }
  }
  return [...out.values()];
}

/** True when every reference is fully qualified and every import is present. */
function wellFormed(f: FileDescriptorProto, byName: ReadonlyMap<string, FileDescriptorProto>): boolean {
  if (f.dependency.some((d) => !byName.has(d) && !wellKnownFile(d))) return false;
  if (f.package === "google.protobuf" && !wellKnownFile(f.name)) return false;
  let ok = true;
  walkMessages(f.messageType, "", (m) => {
    for (const field of [...m.field, ...m.extension]) {
      if (
        (field.typeName && !field.typeName.startsWith(".")) ||
        (field.extendee && !field.extendee.startsWith("."))
      ) {
        ok = false;
      }
    }
  });
  return (
    ok &&
    f.service.every((s) => s.method.every((m) => m.inputType.startsWith(".") && m.outputType.startsWith(".")))
  );
}

function repairField(
  field: FieldDescriptorProto,
  scope: string,
  resolve: (ref: string, scope: string, what: string) => string,
): void {
  const what = `field ${scope.slice(1)}.${field.name}`;
  if (!field.jsonName && !field.extendee) field.jsonName = protoCamelCase(field.name);
  if (field.typeName) field.typeName = resolve(field.typeName, scope, what);
  if (field.extendee) field.extendee = resolve(field.extendee, scope, what);
}

/**
 * protobuf's name resolution: a fully qualified `.a.b.C` as is; otherwise the
 * scopes from the innermost outwards (`.pkg.Msg.X`, `.pkg.X`, `.X`).
 */
function resolveName(ref: string, scope: string, known: ReadonlyMap<string, string>): string | undefined {
  if (ref.startsWith(".")) return known.has(ref) ? ref : undefined;
  let s = scope;
  for (;;) {
    const candidate = `${s}.${ref}`;
    if (known.has(candidate)) return candidate;
    if (s === "") return undefined;
    s = s.slice(0, s.lastIndexOf("."));
  }
}

function indexTypes(f: FileDescriptorProto, owner: Map<string, string>): void {
  const pkg = f.package ? `.${f.package}` : "";
  for (const e of f.enumType) owner.set(`${pkg}.${e.name}`, f.name);
  walkMessages(f.messageType, pkg, (m, scope) => {
    owner.set(scope, f.name);
    for (const e of m.enumType) owner.set(`${scope}.${e.name}`, f.name);
  });
}

/** Visits every message with its full name (with the leading dot). */
function walkMessages(
  messages: readonly DescriptorProto[],
  prefix: string,
  visit: (m: DescriptorProto, fullName: string) => void,
): void {
  for (const m of messages) {
    const full = `${prefix}.${m.name}`;
    visit(m, full);
    walkMessages(m.nestedType, full, visit);
  }
}

/** Full names of the well-known types, built on first use. */
let wellKnownTypes: ReadonlyMap<string, string> | undefined;

/** Removes well-known types from a file that merged them under another name. */
function dropWellKnown(f: FileDescriptorProto): void {
  if (!wellKnownTypes) {
    const owner = new Map<string, string>();
    for (const w of wellKnownFiles()) indexTypes(w, owner);
    wellKnownTypes = owner;
  }
  const known = wellKnownTypes;
  f.messageType = f.messageType.filter((m) => !known.has(`.google.protobuf.${m.name}`));
  f.enumType = f.enumType.filter((e) => !known.has(`.google.protobuf.${e.name}`));
}

/** protoc's synthetic oneof `_x` around the proto3 `optional` field `x`, when the flag was lost. */
function markProto3Optional(f: FileDescriptorProto, m: DescriptorProto): void {
  if (f.syntax !== "proto3" && f.syntax !== "") return;
  m.oneofDecl.forEach((oneof, index) => {
    const members = m.field.filter((x) => x.oneofIndex === index);
    const only = members[0];
    if (members.length === 1 && only && oneof.name === `_${only.name}` && !only.proto3Optional) {
      only.proto3Optional = true;
    }
  });
}
