export { buildTools, CatalogError, type ToolDef } from "./catalog/index.js";
export { ConfigError, type GatewayConfig, loadConfigFile, parseConfig } from "./config/index.js";
export { createGateway, type Gateway } from "./gateway.js";
export { createMcpServer, type McpServer } from "./mcp/index.js";
