import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import {
  type Operation,
  type OperationsServer,
  OperationsService,
} from "../../gen/grpc-js/google/longrunning/operations.js";
import {
  ExportProgress,
  ExportResult,
  type ExportServiceServer,
  ExportServiceService,
} from "../../gen/grpc-js/mcpengine/testing/v1/exports.js";

/** How long an export takes per row. */
export const MS_PER_ROW = 20;

interface Export {
  readonly name: string;
  readonly table: string;
  readonly rows: number;
  readonly failWith: string;
  readonly startedAt: number;
  cancelled: boolean;
}

/** A backend serving `mcpengine.testing.v1.ExportService` and `google.longrunning.Operations` (AIP-151). */
export interface ExportBackend {
  readonly url: string;
  /** Names of the operations CancelOperation was called for. */
  readonly cancelled: string[];
  /** GetOperation calls received. */
  gets(): number;
  close(): Promise<void>;
}

const typeUrl = (name: string) => `type.googleapis.com/mcpengine.testing.v1.${name}`;

/**
 * An export runs for `rows × MS_PER_ROW` ms from its start (no timers: its
 * state is computed when asked), then ends with an `ExportResult`, or with
 * `fail_with` as an INTERNAL error; a cancelled one ends CANCELLED at once.
 */
export async function startExportBackend(): Promise<ExportBackend> {
  const exports = new Map<string, Export>();
  const cancelled: string[] = [];
  let gets = 0;
  let next = 0;

  function operation(e: Export): Operation {
    const done = Math.min(e.rows, Math.floor((Date.now() - e.startedAt) / MS_PER_ROW));
    const metadata = {
      typeUrl: typeUrl("ExportProgress"),
      value: Buffer.from(ExportProgress.encode({ rowsDone: done, rowsTotal: e.rows }).finish()),
    };
    if (e.cancelled) {
      return {
        name: e.name,
        metadata,
        done: true,
        error: { code: status.CANCELLED, message: "export cancelled", details: [] },
      };
    }
    if (done < e.rows) return { name: e.name, metadata, done: false };
    if (e.failWith) {
      return {
        name: e.name,
        metadata,
        done: true,
        error: { code: status.INTERNAL, message: e.failWith, details: [] },
      };
    }
    const result = ExportResult.encode({ uri: `gs://exports/${e.table}.csv`, rows: e.rows }).finish();
    return {
      name: e.name,
      metadata,
      done: true,
      response: { typeUrl: typeUrl("ExportResult"), value: Buffer.from(result) },
    };
  }

  const server = new Server();
  const exportService: ExportServiceServer = {
    startExport(call, callback) {
      const e: Export = {
        name: `operations/export-${++next}`,
        table: call.request.table,
        rows: call.request.rows,
        failWith: call.request.failWith,
        startedAt: Date.now(),
        cancelled: false,
      };
      exports.set(e.name, e);
      callback(null, operation(e));
    },
  };
  const operations: OperationsServer = {
    getOperation(call, callback) {
      gets++;
      const e = exports.get(call.request.name);
      if (!e) return callback({ code: status.NOT_FOUND, details: `no operation ${call.request.name}` });
      callback(null, operation(e));
    },
    cancelOperation(call, callback) {
      const e = exports.get(call.request.name);
      if (!e) return callback({ code: status.NOT_FOUND, details: `no operation ${call.request.name}` });
      cancelled.push(e.name);
      e.cancelled = true;
      callback(null, {});
    },
  };
  server.addService(ExportServiceService, exportService);
  server.addService(OperationsService, operations);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    cancelled,
    gets: () => gets,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
