export { ADMIN_CALL_MESSAGE } from "./log.js";
export { type AdminApiOptions, adminRoutes } from "./router.js";
export { type AdminListener, type AdminListenOptions, listenAdmin } from "./server.js";
export type {
  AdminBackend,
  AdminCounters,
  AdminReloadOutcome,
  AdminSource,
  AdminSurface,
  AdminTool,
} from "./source.js";
