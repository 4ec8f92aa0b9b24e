export {
  type BackendConfig,
  ConfigError,
  type GatewayConfig,
  loadConfigFile,
  parseConfig,
  type SessionSettings,
} from "./load.js";
