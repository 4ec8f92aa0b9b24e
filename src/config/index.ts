export { ConfigError, type ConfigErrorCode } from "./error.js";
export {
  type BackendConfig,
  type GatewayConfig,
  type HostPort,
  type LimitSettings,
  loadConfigFile,
  parseConfig,
  type RequestLimitSettings,
  type SessionSettings,
  type TaskSettings,
} from "./load.js";
export type { StoreSettings } from "./store.js";
