import { Server, ServerCredentials } from "@grpc/grpc-js";
import { EverythingServiceService } from "../../gen/grpc-js/conformance/v1/everything.js";
import { addReflection } from "../shared/reflection.js";
import { createEverythingService } from "./service.js";

/** A running fixture backend. */
export interface RunningEverything {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the conformance fixture (EverythingService, with server reflection) on 127.0.0.1. */
export async function startEverything(port = 0): Promise<RunningEverything> {
  const server = new Server();
  server.addService(EverythingServiceService, createEverythingService());
  addReflection(server, ["conformance.v1.EverythingService"]);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}
