import { createHash } from "node:crypto";
import {
  create,
  createFileRegistry,
  type DescService,
  type FileRegistry,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { DescriptorError } from "./errors.js";
import { repairFiles } from "./repair.js";
import { WELL_KNOWN } from "./well-known.js";

/** Services that are infrastructure, not business APIs: never tools. */
const INFRASTRUCTURE = /^grpc\.(reflection|health)\./;

/** The outcome of loading: a registry and the services it offers. */
export interface LoadedDescriptors {
  readonly registry: FileRegistry;
  readonly services: DescService[];
  /** A digest of the files, equal for equal descriptors whatever their order or source: a reload compares it. */
  readonly fingerprint: string;
}

/**
 * The single path every source ends in: files (any order, possibly lacking
 * well-known types) → a `FileRegistry`. Options and SourceCodeInfo are kept as
 * sent; protobuf-es retains unknown option fields such as MCPEngine's extensions.
 */
export function buildRegistry(files: readonly FileDescriptorProto[], origin: string): LoadedDescriptors {
  const byName = new Map<string, FileDescriptorProto>();
  for (const f of repairFiles(files, origin)) if (!byName.has(f.name)) byName.set(f.name, f);
  for (const f of [...byName.values()]) addMissingWellKnown(f, byName);
  const missing = [...byName.values()].flatMap((f) => f.dependency.filter((d) => !byName.has(d)));
  if (missing.length > 0) {
    throw new DescriptorError(
      "incomplete",
      `${origin}: missing imported file(s) ${[...new Set(missing)].join(", ")}`,
    );
  }
  let registry: FileRegistry;
  try {
    registry = createFileRegistry(create(FileDescriptorSetSchema, { file: topological(byName) }));
  } catch (err) {
    const reason = (err instanceof Error && err.message) || String(err) || "rejected by the registry";
    throw new DescriptorError("invalid", `${origin}: invalid descriptors: ${reason}`);
  }
  const services: DescService[] = [];
  for (const file of registry.files) {
    for (const s of file.services) if (!INFRASTRUCTURE.test(s.typeName)) services.push(s);
  }
  const digest = createHash("sha256");
  for (const name of [...byName.keys()].sort()) {
    const file = byName.get(name);
    if (file) digest.update(toBinary(FileDescriptorProtoSchema, file));
  }
  return { registry, services, fingerprint: digest.digest("base64url") };
}

function addMissingWellKnown(file: FileDescriptorProto, byName: Map<string, FileDescriptorProto>): void {
  for (const dep of file.dependency) {
    if (byName.has(dep)) continue;
    const wkt = WELL_KNOWN.get(dep);
    if (wkt) {
      byName.set(dep, wkt);
      addMissingWellKnown(wkt, byName);
    }
  }
}

/** Orders files so every file comes after its imports, as the registry requires. */
function topological(byName: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const out: FileDescriptorProto[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (f: FileDescriptorProto) => {
    const s = state.get(f.name);
    if (s === "done") return;
    if (s === "visiting") throw new DescriptorError("invalid", `import cycle through ${f.name}`);
    state.set(f.name, "visiting");
    for (const dep of f.dependency) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    state.set(f.name, "done");
    out.push(f);
  };
  for (const f of byName.values()) visit(f);
  return out;
}
