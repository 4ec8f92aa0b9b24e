export { type TaskWatches, watchTasks } from "./listen.js";
export { localTasks } from "./local.js";
export { runAsTask, type TaskCall } from "./run.js";
export { createTaskService, type TaskOptions } from "./service.js";
export type {
  RunningTask,
  TaskContext,
  TaskKind,
  TaskRequest,
  TaskService,
  TaskSettings,
} from "./types.js";
export {
  createTaskResult,
  declaresTasks,
  detailedTask,
  isTerminal,
  missingTasksExtension,
  ownerOf,
  TASKS_EXTENSION,
  taskNotFound,
} from "./wire.js";
