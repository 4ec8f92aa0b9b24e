export type { TaskKind, TaskRequest } from "./kinds.js";
export { type TaskWatches, watchTasks } from "./listen.js";
export { localTasks } from "./local.js";
export { runAsTask, type TaskCall } from "./run.js";
export {
  createTaskService,
  type RunningTask,
  type TaskOptions,
  type TaskService,
  type TaskSettings,
} from "./service.js";
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
