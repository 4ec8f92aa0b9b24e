export { type BackendConfig, ConfigError, type GatewayConfig, loadConfigFile, parseConfig } from "./load.js";
