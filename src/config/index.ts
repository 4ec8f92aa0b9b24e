export { ConfigError, type ConfigErrorCode } from "./error.js";
export {
  type BackendConfig,
  type GatewayConfig,
  loadConfigFile,
  parseConfig,
  type SessionSettings,
} from "./load.js";
export type { StoreSettings } from "./store.js";
