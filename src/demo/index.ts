// The identity provider (idp.ts) is left out on purpose: it loads oidc-provider, which only its part needs.
export { runPart } from "./parts.js";
export { DemoError, type DemoErrorCode } from "./ports.js";
export { DEMO_PARTS, type DemoPart, type DemoSettings, isDemoPart, mcpUrl } from "./settings.js";
export { superviseDemo } from "./supervisor.js";
export { DEMO_USERS, type DemoUser } from "./users.js";
