import type { JsonObject } from "@bufbuild/protobuf";
import type { Exchange } from "../exchange.js";
import type { TaskService } from "./types.js";
import { detailedTask, ownerOf } from "./wire.js";

/** Most tasks one subscriptions/listen stream follows. */
const MAX_WATCHED = 100;

/** The task watches of one subscriptions/listen stream. */
export interface TaskWatches {
  /** The ids followed: the caller's tasks among those asked for (others are left out, as unknown). */
  readonly taskIds: readonly string[];
  /** Starts sending: changes before it (before the acknowledgement) are not sent. */
  start(): void;
  stop(): void;
}

/**
 * Follows tasks for subscriptions/listen (SEP-2663 "Task Status
 * Notifications"): each change of one of the caller's tasks is sent as the
 * full `DetailedTask`, as tasks/get would answer at that moment. A task of
 * another caller, or none, is acknowledged like an unknown one: left out.
 */
export async function watchTasks(
  tasks: TaskService,
  ids: readonly string[],
  ex: Exchange,
  send: (task: JsonObject) => void,
): Promise<TaskWatches> {
  const owner = ownerOf(ex);
  const followed: string[] = [];
  const stops: (() => void)[] = [];
  let started = false;
  for (const id of [...new Set(ids)].slice(0, MAX_WATCHED)) {
    if (!(await tasks.find(id, owner))) continue;
    let sent = -1;
    let reading = Promise.resolve();
    const onChange = () => {
      // One read at a time per task, so notifications go out in the order of the writes.
      reading = reading.then(async () => {
        if (!started) return;
        const record = await tasks.get(id).catch(() => undefined);
        if (!record || record.owner !== owner || record.version <= sent) return;
        sent = record.version;
        send(detailedTask(record));
      });
    };
    stops.push(await tasks.watch(id, onChange));
    followed.push(id);
  }
  return {
    taskIds: followed,
    start() {
      started = true;
    },
    stop() {
      for (const stop of stops) stop();
    },
  };
}
