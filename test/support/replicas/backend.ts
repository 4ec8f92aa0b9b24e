import { Server, ServerCredentials, type ServerWritableStream } from "@grpc/grpc-js";
import { createEverythingService } from "../../../examples/conformance/service.js";
import { addReflection } from "../../../examples/shared/reflection.js";
import { EverythingServiceService } from "../../../gen/grpc-js/conformance/v1/everything.js";
import type { Empty } from "../../../gen/grpc-js/google/protobuf/empty.js";
import type {
  ResourceUpdate,
  ToolEvent,
  WatchResourceRequest,
} from "../../../gen/grpc-js/mcpengine/v1/mcp.js";

/** Steps of the slow streaming tool `test_tool_with_progress`, 50 ms apart. */
export const PROGRESS_STEPS = 40;

/** The conformance fixture with a slow progress tool and numbered resource updates, counting cancellations. */
export interface ReplicaBackend {
  readonly port: number;
  /** Progress calls the gateway cancelled. */
  readonly cancelled: number;
  /** Resource watches the gateway ended. */
  readonly watchesEnded: number;
  close(): Promise<void>;
}

/** Starts it on 127.0.0.1 with server reflection. */
export async function startReplicaBackend(): Promise<ReplicaBackend> {
  let cancelled = 0;
  let watchesEnded = 0;
  const server = new Server();
  server.addService(EverythingServiceService, {
    ...createEverythingService(),
    // Progress every 50 ms for 2 s, so a client can leave and come back in the middle.
    toolWithProgress: async (call: ServerWritableStream<Empty, ToolEvent>) => {
      for (let i = 1; i <= PROGRESS_STEPS; i++) {
        if (call.cancelled) {
          cancelled++;
          return;
        }
        call.write({ progress: { progress: i, total: PROGRESS_STEPS, message: `step ${i}` } } as ToolEvent);
        await new Promise((r) => setTimeout(r, 50));
      }
      call.write({
        result: { content: [{ text: { text: "done" } }], isError: false },
      } as unknown as ToolEvent);
      call.end();
    },
    // Numbered updates every 40 ms, so a client can tell each one apart.
    watchResource: async (call: ServerWritableStream<WatchResourceRequest, ResourceUpdate>) => {
      for (let n = 1; !call.cancelled && n < 5_000; n++) {
        await new Promise((r) => setTimeout(r, 40));
        if (!call.cancelled) call.write({ uri: `${call.request.uri}?n=${n}` });
      }
      if (call.cancelled) watchesEnded++;
      call.end();
    },
  });
  addReflection(server, ["conformance.v1.EverythingService"]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    get cancelled() {
      return cancelled;
    },
    get watchesEnded() {
      return watchesEnded;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 500).unref();
      }),
  };
}
