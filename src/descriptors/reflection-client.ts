import { create, fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import * as v1 from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";
import { DescriptorError } from "./errors.js";
import { wellKnownFile } from "./well-known.js";

/** Options of {@link fetchByReflection}. */
export interface ReflectionOptions {
  /** Overall time limit in milliseconds. Default 10 s. */
  readonly timeoutMs?: number;
  /** Most files accepted from one server. Default 10,000. */
  readonly maxFiles?: number;
  /** Label for error messages, e.g. the backend's address. */
  readonly origin?: string;
}

/** The request shape shared by reflection v1 and v1alpha. */
type MessageRequest =
  | { case: "listServices"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "fileByFilename"; value: string };

/** The response shape shared by reflection v1 and v1alpha. */
interface ReflectionResponse {
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } }
    | { case: undefined; value?: undefined };
}

type Exchange = (req: MessageRequest) => Promise<ReflectionResponse>;

/**
 * Fetches every file a server's services need through gRPC server reflection
 * (grpc/doc/server-reflection.md): `list_services`, `file_containing_symbol`
 * per service, then `file_by_filename` for each missing import. Tries
 * `grpc.reflection.v1` and falls back to `v1alpha` on UNIMPLEMENTED.
 */
export async function fetchByReflection(
  transport: Transport,
  options: ReflectionOptions = {},
): Promise<FileDescriptorProto[]> {
  const origin = options.origin ?? "backend";
  try {
    return await session(transport, "v1", options);
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.Unimplemented) {
      try {
        return await session(transport, "v1alpha", options);
      } catch (err2) {
        throw toDescriptorError(err2, origin);
      }
    }
    throw toDescriptorError(err, origin);
  }
}

async function session(
  transport: Transport,
  version: "v1" | "v1alpha",
  options: ReflectionOptions,
): Promise<FileDescriptorProto[]> {
  const abort = new AbortController();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timer = setTimeout(
    () => abort.abort(new ConnectError("reflection timed out", Code.DeadlineExceeded)),
    timeoutMs,
  );
  const outbox = createQueue<MessageRequest>();
  // The deadline is this timer, not the call's `timeoutMs`: Connect clears its own deadline timer
  // only when the stream completes, and this one is abandoned once the files are in, which left a
  // 10 s timer holding the process open (`mcpengine tools` lingered).
  try {
    const responses =
      version === "v1"
        ? createClient(v1.ServerReflection, transport).serverReflectionInfo(
            mapAsync(outbox.iterable, (r) => create(v1.ServerReflectionRequestSchema, { messageRequest: r })),
            { signal: abort.signal },
          )
        : createClient(v1alpha.ServerReflection, transport).serverReflectionInfo(
            mapAsync(outbox.iterable, (r) =>
              create(v1alpha.ServerReflectionRequestSchema, { messageRequest: r }),
            ),
            { signal: abort.signal },
          );
    const it = (responses as AsyncIterable<ReflectionResponse>)[Symbol.asyncIterator]();
    const exchange: Exchange = async (req) => {
      outbox.push(req);
      const next = await it.next();
      if (next.done) throw new ConnectError("reflection stream ended early", Code.Unavailable);
      return next.value;
    };
    const files = await collect(exchange, options);
    outbox.end();
    return files;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

async function collect(exchange: Exchange, options: ReflectionOptions): Promise<FileDescriptorProto[]> {
  const maxFiles = options.maxFiles ?? 10_000;
  const files = new Map<string, FileDescriptorProto>();
  const add = (res: ReflectionResponse, asked: string) => {
    const r = res.messageResponse;
    if (r.case === "errorResponse") {
      throw new DescriptorError("incomplete", `server could not provide ${asked}: ${r.value.errorMessage}`);
    }
    if (r.case !== "fileDescriptorResponse")
      throw new DescriptorError("invalid", `unexpected answer for ${asked}`);
    for (const bytes of r.value.fileDescriptorProto) {
      const f = fromBinary(FileDescriptorProtoSchema, bytes);
      if (!files.has(f.name)) files.set(f.name, f);
      if (files.size > maxFiles)
        throw new DescriptorError("invalid", `server sent more than ${maxFiles} files`);
    }
  };

  const list = await exchange({ case: "listServices", value: "" });
  if (list.messageResponse.case !== "listServicesResponse") {
    throw new DescriptorError("invalid", "server did not answer list_services");
  }
  for (const { name } of list.messageResponse.value.service) {
    if (/^grpc\.reflection\./.test(name)) continue;
    add(await exchange({ case: "fileContainingSymbol", value: name }), `symbol ${name}`);
  }
  // Close over imports until nothing is missing.
  for (;;) {
    const missing = [...files.values()].flatMap((f) => f.dependency).filter((d) => !files.has(d));
    const next = missing[0];
    if (next === undefined) break;
    const wkt = wellKnownFile(next);
    if (wkt) {
      files.set(next, wkt);
      continue;
    }
    add(await exchange({ case: "fileByFilename", value: next }), `file "${next}"`);
    if (!files.has(next)) throw new DescriptorError("incomplete", `server did not send file "${next}"`);
  }
  return [...files.values()];
}

function toDescriptorError(err: unknown, origin: string): DescriptorError {
  if (err instanceof DescriptorError) return new DescriptorError(err.code, `${origin}: ${err.message}`);
  const ce = ConnectError.from(err);
  switch (ce.code) {
    case Code.Unimplemented:
      return new DescriptorError(
        "unimplemented",
        `${origin} does not offer gRPC server reflection: ${ce.rawMessage}`,
      );
    case Code.DeadlineExceeded:
      return new DescriptorError("timeout", `${origin}: server reflection timed out`);
    default:
      return new DescriptorError(
        "unavailable",
        `${origin}: server reflection failed (${Code[ce.code]}): ${ce.rawMessage}`,
      );
  }
}

interface Queue<T> {
  iterable: AsyncIterable<T>;
  push(value: T): void;
  end(): void;
}

/** A minimal push queue feeding the request side of the bidi stream. */
function createQueue<T>(): Queue<T> {
  const items: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(value) {
      items.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const item = items.shift();
          if (item !== undefined) {
            yield item;
            continue;
          }
          if (ended) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
    },
  };
}

async function* mapAsync<A, B>(source: AsyncIterable<A>, fn: (a: A) => B): AsyncIterable<B> {
  for await (const a of source) yield fn(a);
}
