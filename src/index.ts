export { buildTools, CatalogError, type ToolDef } from "./catalog/index.js";
export { ConfigError, type GatewayConfig, loadConfigFile, parseConfig } from "./config/index.js";
export { createGateway, type Gateway, type GatewayOptions } from "./gateway.js";
export { createMcpServer, type McpServer } from "./mcp/index.js";
export { createLogger, type Logger, type LoggerOptions } from "./observe/index.js";
