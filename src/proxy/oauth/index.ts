/** The proxy's OAuth 2.1 client (MCP authorization 2025-11-25). */
export { createOAuthClient } from "./client.js";
export { OAuthClientError, type OAuthClientErrorCode } from "./errors.js";
export type { OAuthClient, OAuthClientOptions, OAuthStatus } from "./options.js";
export { defaultHome, type TokenEndpointAuth } from "./store.js";
