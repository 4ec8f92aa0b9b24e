import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { createServer } from "nice-grpc";
import { ServerReflection, ServerReflectionService } from "nice-grpc-server-reflection";
import { addReflection, IMAGE_PATH } from "../../../examples/shared/reflection.js";
import {
  type EchoRequest,
  type EchoResponse,
  InteropServiceService,
  type RepeatRequest,
  type RepeatResponse,
} from "../../../gen/grpc-js/mcpengine/interop/v1/interop.js";

/** A test backend serving `mcpengine.interop.v1.InteropService` with server reflection. */
export interface InteropBackend {
  readonly url: string;
  /** Calls the backend's handlers received, where the backend counts them. */
  readonly calls?: () => number;
  close(): Promise<void>;
}

export const INTEROP_SERVICE = "mcpengine.interop.v1.InteropService";
const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

/** Copies to stream back for a Repeat request: its count, clamped to 1–100. */
export function repeatCount(count: number): number {
  return Math.min(100, Math.max(1, count));
}

/**
 * grpc-node's own stack, the way `@grpc/reflection`'s README shows it: the
 * service loaded with `@grpc/proto-loader`, reflection built from the same
 * package definition (it serves synthetic per-package file names with empty
 * import lists).
 */
export async function startGrpcNodeReflectionBackend(): Promise<InteropBackend> {
  const definition = loadSync("mcpengine/interop/v1/interop.proto", {
    includeDirs: [PROTO_ROOT],
    longs: String,
    enums: String,
    oneofs: true,
  });
  const service = (definition[INTEROP_SERVICE] ?? {}) as { [method: string]: unknown };
  let calls = 0;
  const server = new Server();
  const impl: UntypedServiceImplementation = {
    Echo(call: ServerUnaryCall<{ record?: unknown }, unknown>, callback: sendUnaryData<unknown>) {
      calls++;
      callback(null, { record: call.request.record });
    },
    Repeat(call: ServerWritableStream<{ record?: unknown; count: number }, unknown>) {
      calls++;
      for (let i = 1; i <= repeatCount(call.request.count); i++)
        call.write({ index: i, record: call.request.record });
      call.end();
    },
  };
  server.addService(service as Parameters<Server["addService"]>[0], impl);
  new ReflectionService(definition).addToServer(server);
  return listenGrpcJs(server, () => calls);
}

/** Our own stack: grpc-js with ts-proto stubs and the repository's reflection over the buf image. */
export async function startGrpcJsBackend(port = 0): Promise<InteropBackend> {
  let calls = 0;
  const server = new Server();
  server.addService(InteropServiceService, {
    echo(call: ServerUnaryCall<EchoRequest, EchoResponse>, callback: sendUnaryData<EchoResponse>) {
      calls++;
      callback(null, { record: call.request.record });
    },
    repeat(call: ServerWritableStream<RepeatRequest, RepeatResponse>) {
      calls++;
      for (let i = 1; i <= repeatCount(call.request.count); i++)
        call.write({ index: i, record: call.request.record });
      call.end();
    },
  });
  addReflection(server, [INTEROP_SERVICE]);
  return listenGrpcJs(server, () => calls, port);
}

/** nice-grpc, with `nice-grpc-server-reflection` serving a descriptor set (the buf image). */
export async function startNiceGrpcBackend(): Promise<InteropBackend> {
  let calls = 0;
  const server = createServer();
  server.add(InteropServiceService, {
    async echo(request: EchoRequest): Promise<EchoResponse> {
      calls++;
      return { record: request.record };
    },
    async *repeat(request: RepeatRequest): AsyncIterable<RepeatResponse> {
      calls++;
      for (let i = 1; i <= repeatCount(request.count); i++) yield { index: i, record: request.record };
    },
  });
  server.add(ServerReflectionService, ServerReflection(readFileSync(IMAGE_PATH), [INTEROP_SERVICE]));
  const port = await server.listen("127.0.0.1:0");
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => calls,
    close: () => server.shutdown(),
  };
}

async function listenGrpcJs(server: Server, calls: () => number, wanted = 0): Promise<InteropBackend> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${wanted}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}
