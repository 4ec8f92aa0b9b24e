import { pathToFileURL } from "node:url";
import { Server, ServerCredentials, type ServerInterceptor } from "@grpc/grpc-js";
import { SmackServiceService } from "../../gen/grpc-js/smack/v1/smack.js";
import { addReflection } from "../shared/reflection.js";
import { openDatabase } from "./db.js";
import { seedSmack } from "./seed.js";
import { createSmackService } from "./service.js";
import { MessageStore } from "./store.js";

/** Options of {@link startSmack}. */
export interface SmackOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default 50051. */
  readonly port?: number;
  readonly host?: string;
  /** Postgres URL; embedded PGlite when absent. */
  readonly databaseUrl?: string;
  /** PGlite data directory (in memory when absent). */
  readonly dataDir?: string;
  /** Postgres schema to use (created if missing, dropped on close): isolates test runs. */
  readonly schema?: string;
  /** grpc-js server interceptors around every call, reflection included (tests count calls with one). None by default. */
  readonly interceptors?: readonly ServerInterceptor[];
  /** Write the demo's channels and messages (seed.ts) that are not there yet. Default false. */
  readonly seed?: boolean;
}

/** A running Smack server. */
export interface RunningSmack {
  readonly port: number;
  readonly address: string;
  readonly database: "postgres" | "pglite";
  /** Seed messages written at start (0 without `seed`, or when they were all there already). */
  readonly seeded: number;
  /** Live WatchChannel subscriptions of a channel. */
  watchers(channel: string): number;
  close(): Promise<void>;
}

/**
 * Starts Smack: the SmackService on grpc-js with server reflection, storing
 * channels and messages in Postgres (`pg`) or embedded PGlite.
 */
export async function startSmack(options: SmackOptions = {}): Promise<RunningSmack> {
  const db = await openDatabase({
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.schema ? { schema: options.schema, dropSchemaOnClose: true } : {}),
  });
  const store = new MessageStore(db);
  await store.migrate();
  const seeded = options.seed ? await seedSmack(store) : 0;
  const service = createSmackService(store);
  const server = new Server(options.interceptors ? { interceptors: [...options.interceptors] } : {});
  server.addService(SmackServiceService, service.implementation);
  addReflection(server, ["smack.v1.SmackService"]);
  const host = options.host ?? "127.0.0.1";
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 50051}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  ).catch(async (err: unknown) => {
    // A taken port: nothing will serve, so let go of the database too (PGlite holds its folder).
    server.forceShutdown();
    await db.close();
    throw err;
  });
  return {
    port,
    address: `${host}:${port}`,
    database: db.kind,
    seeded,
    watchers: (channel) => service.watchers(channel),
    async close() {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await db.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const smack = await startSmack({
    port: Number(process.env.PORT ?? 50051),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    ...(process.env.SMACK_DATA_DIR ? { dataDir: process.env.SMACK_DATA_DIR } : {}),
  });
  process.stderr.write(`smack: gRPC on ${smack.address} (${smack.database})\n`);
  const stop = () => void smack.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
