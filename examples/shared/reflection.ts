import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { type Server, type ServerDuplexStream, status } from "@grpc/grpc-js";
import * as v1 from "../../gen/grpc-js/grpc/reflection/v1/reflection.js";
import * as v1alpha from "../../gen/grpc-js/grpc/reflection/v1alpha/reflection.js";

/** The buf image of every proto in the repository, with comments (gen/image.binpb). */
export const IMAGE_PATH = fileURLToPath(new URL("../../gen/image.binpb", import.meta.url));

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

/**
 * Registers gRPC server reflection (grpc/doc/server-reflection.md), v1 and
 * v1alpha, answering from the buf image's original file bytes.
 *
 * We do not use `@grpc/reflection` here: it decodes and re-encodes each file
 * with a descriptor codec that drops unknown fields, which removes custom
 * options such as `(mcpengine.v1.tool)` — exactly what the gateway reads.
 */
export function addReflection(server: Server, services: readonly string[]): void {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
  const index = new ReflectionIndex(set.file, services);
  const handler = (call: ServerDuplexStream<Request, Response>) => {
    call.on("data", (req: Request) => call.write(index.answer(req)));
    call.on("end", () => call.end());
    call.on("error", () => call.end());
  };
  server.addService(v1.ServerReflectionService, { serverReflectionInfo: handler });
  server.addService(v1alpha.ServerReflectionService, { serverReflectionInfo: handler });
}

/** Files by name and by the symbols they define. */
class ReflectionIndex {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly bytes = new Map<string, Buffer>();
  private readonly symbols = new Map<string, string>();

  constructor(
    files: readonly FileDescriptorProto[],
    private readonly services: readonly string[],
  ) {
    for (const f of files) {
      this.files.set(f.name, f);
      this.bytes.set(f.name, Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
      const pkg = f.package ? `${f.package}.` : "";
      for (const s of f.service) {
        this.symbols.set(pkg + s.name, f.name);
        for (const m of s.method) this.symbols.set(`${pkg}${s.name}.${m.name}`, f.name);
      }
      for (const e of f.enumType) this.symbols.set(pkg + e.name, f.name);
      for (const x of f.extension) this.symbols.set(pkg + x.name, f.name);
      const addMessages = (prefix: string, messages: DescriptorProto[]) => {
        for (const m of messages) {
          this.symbols.set(prefix + m.name, f.name);
          for (const e of m.enumType) this.symbols.set(`${prefix}${m.name}.${e.name}`, f.name);
          addMessages(`${prefix}${m.name}.`, m.nestedType);
        }
      };
      addMessages(pkg, f.messageType);
    }
  }

  answer(req: Request): Response {
    const base = { validHost: req.host, originalRequest: req };
    if (req.listServices !== undefined) {
      return { ...base, listServicesResponse: { service: this.services.map((name) => ({ name })) } };
    }
    const file =
      req.fileByFilename !== undefined
        ? this.files.get(req.fileByFilename)?.name
        : req.fileContainingSymbol !== undefined
          ? this.symbols.get(req.fileContainingSymbol.replace(/^\./, ""))
          : undefined;
    if (file === undefined) {
      const what = req.fileByFilename ?? req.fileContainingSymbol ?? "request";
      return { ...base, errorResponse: { errorCode: status.NOT_FOUND, errorMessage: `${what} not found` } };
    }
    return { ...base, fileDescriptorResponse: { fileDescriptorProto: this.withImports(file) } };
  }

  /** The file and everything it imports, transitively, imports first. */
  private withImports(name: string): Buffer[] {
    const out: Buffer[] = [];
    const seen = new Set<string>();
    const visit = (n: string) => {
      if (seen.has(n)) return;
      seen.add(n);
      const f = this.files.get(n);
      if (!f) return;
      for (const d of f.dependency) visit(d);
      const b = this.bytes.get(n);
      if (b) out.push(b);
    };
    visit(name);
    return out;
  }
}
