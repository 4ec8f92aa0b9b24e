import { createRegistry, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import * as v1 from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";

/** A reflection request's question, the same in v1 and v1alpha. */
type Question =
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined; value?: undefined };

/** A reflection response's answer, the same in v1 and v1alpha. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Registers gRPC server reflection (grpc/doc/server-reflection.md), v1 and
 * v1alpha, describing `services` and the reflection services themselves, so
 * `grpcurl` and `buf curl` need no schema. Files are the descriptors embedded
 * in the generated code (no comments; the wire format is all a client needs).
 * Questions about extensions are answered "not found": the admin API declares none.
 */
export function addReflection(
  router: ConnectRouter,
  services: readonly DescService[],
  options: { readonly interceptors?: Interceptor[] } = {},
): void {
  const answer = reflectionIndex([...services, v1.ServerReflection, v1alpha.ServerReflection]);
  const handlerOptions = { interceptors: options.interceptors ?? [] };
  for (const service of [v1.ServerReflection, v1alpha.ServerReflection]) {
    serveReflection(router, service, answer, handlerOptions);
  }
}

/** The reflection service of either version: their messages have the same shape. */
type ReflectionService = typeof v1.ServerReflection | typeof v1alpha.ServerReflection;

/**
 * Registers `service`, answering each question on the stream with `answer`. The two versions'
 * messages differ only in their type names: the handler is generic in the request it echoes.
 */
function serveReflection(
  router: ConnectRouter,
  service: ReflectionService,
  answer: (question: Question) => Answer,
  handlerOptions: { readonly interceptors: Interceptor[] },
): void {
  async function* serverReflectionInfo<
    R extends { readonly host: string; readonly messageRequest: Question },
  >(requests: AsyncIterable<R>) {
    for await (const req of requests) {
      yield { validHost: req.host, originalRequest: req, messageResponse: answer(req.messageRequest) };
    }
  }
  router.service(service, { serverReflectionInfo }, handlerOptions);
}

/** Answers reflection questions about `services` from their files and every file these import. */
function reflectionIndex(services: readonly DescService[]): (question: Question) => Answer {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dep of file.dependencies) visit(dep);
  };
  for (const s of services) visit(s.file);
  const registry = createRegistry(...files.values());
  const bytes = new Map<string, Uint8Array>();
  for (const [name, file] of files) bytes.set(name, toBinary(FileDescriptorProtoSchema, file.proto));
  const names = services.map((s) => ({ name: s.typeName }));

  /** The file and everything it imports, transitively, imports first (as grpc-go answers). */
  const withImports = (file: DescFile): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const walk = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      for (const dep of f.dependencies) walk(dep);
      const b = bytes.get(f.proto.name);
      if (b) out.push(b);
    };
    walk(file);
    return out;
  };

  /** The file defining a symbol: a message, enum, service, or a method (`pkg.Service.Method`). */
  const fileOf = (symbol: string): DescFile | undefined => {
    const name = symbol.replace(/^\./, "");
    const desc = registry.get(name);
    if (desc) return desc.file;
    const dot = name.lastIndexOf(".");
    const service = dot > 0 ? registry.getService(name.slice(0, dot)) : undefined;
    return service?.methods.some((m) => m.name === name.slice(dot + 1)) ? service.file : undefined;
  };

  const notFound = (what: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
  });

  return (question) => {
    switch (question.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: names } };
      case "fileByFilename": {
        const file = files.get(question.value);
        return file
          ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(file) } }
          : notFound(`file ${question.value}`);
      }
      case "fileContainingSymbol": {
        const file = fileOf(question.value);
        return file
          ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(file) } }
          : notFound(`symbol ${question.value}`);
      }
      case undefined:
        // Questions about extensions decode to nothing here (our reflection proto leaves them
        // out); the admin API declares no extension, so "not found" is the true answer.
        return notFound("extension");
    }
  };
}
