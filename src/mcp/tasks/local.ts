import type { JsonObject } from "@bufbuild/protobuf";
import { ErrorCode } from "../jsonrpc.js";
import { cancelSourceOperation, operationSource, pollOperation } from "./operation.js";
import type { TaskKind } from "./types.js";
import { changed, isTerminal } from "./wire.js";

/**
 * Tasks run on the replica that created them (run.ts): the record in the
 * shared store is their whole state, written by the run as it goes. An update
 * or a cancellation is written into the record from whichever replica takes
 * the request; the run hears of it on the task's bus channel (and reads the
 * record again every poll interval, should a bus message be lost). The
 * running replica keeps a lease (ReplicaRegistry) while it runs tasks.
 */
export const localTasks: TaskKind = {
  name: "local",

  /**
   * The record as stored, unless the replica running it died (its lease
   * lapsed): a task waiting on a long-running operation is then polled from
   * here (operation.ts); any other fails now, for every replica, since
   * nothing will finish it.
   */
  async observe(record, req) {
    const { ctx } = req;
    if (isTerminal(record.status) || record.replica === undefined) return record;
    if (await ctx.tasks.alive(record.replica)) return record;
    const source = operationSource(record);
    const polled = source ? await pollOperation(record, source, req) : undefined;
    if (polled) return polled;
    const error = {
      code: ErrorCode.InternalError,
      message: "The gateway replica running this task stopped before it finished",
    };
    const failed = await ctx.tasks.write(record.id, (current) =>
      isTerminal(current.status) || current.replica !== record.replica
        ? undefined
        : changed(current, { status: "failed", error, statusMessage: error.message }, [
            "inputRequests",
            "inputResponses",
            "result",
          ]),
    );
    return failed ?? (await ctx.tasks.get(record.id)) ?? record;
  },

  /**
   * Moves the answered keys from `inputRequests` to `inputResponses`: tasks/get
   * then shows only the keys still outstanding, and once none is left the task
   * is `working` again while the run takes the answers (SEP-2663 "Task Update Requests").
   */
  async update(record, responses, { ctx }) {
    await ctx.tasks.write(record.id, (current) => {
      if (current.status !== "input_required") return undefined;
      const pending: JsonObject = { ...current.inputRequests };
      const answered: JsonObject = { ...current.inputResponses };
      let took = false;
      for (const [key, response] of Object.entries(responses)) {
        if (!Object.hasOwn(pending, key)) continue;
        delete pending[key];
        answered[key] = response;
        took = true;
      }
      if (!took) return undefined;
      if (Object.keys(pending).length > 0) {
        return changed(current, { inputRequests: pending, inputResponses: answered });
      }
      return changed(current, { status: "working", inputResponses: answered }, ["inputRequests"]);
    });
  },

  /**
   * Settles the task as cancelled at once (the lifecycle SEP-2663 describes,
   * without waiting for the run): the run, told on the bus, aborts its RPC, and
   * its result, should one still come, is not written over a final status.
   */
  async cancel(record, req) {
    const { ctx } = req;
    await ctx.tasks.write(record.id, (current) =>
      isTerminal(current.status)
        ? undefined
        : changed(current, { status: "cancelled", statusMessage: "Cancelled at the client's request" }, [
            "inputRequests",
            "inputResponses",
          ]),
    );
    // A task whose replica stopped: nobody else will stop its operation.
    const source = operationSource(record);
    if (source && record.replica !== undefined && !(await ctx.tasks.alive(record.replica))) {
      await cancelSourceOperation(source, req);
    }
  },
};
