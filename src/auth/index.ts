export { createChallenges } from "./challenge.js";
export { discover, type ServerMetadata } from "./discovery.js";
export { createTokenExchanger, type ExchangeOptions, type TokenExchanger } from "./exchange.js";
export { metadataDocument, metadataLocation } from "./metadata.js";
export {
  type AuthStats,
  createResourceServer,
  type ProviderStage,
  type ResourceServer,
  type ResourceServerOptions,
} from "./resource-server.js";
export { AuthConfigError, authSettings, PRESETS } from "./settings.js";
export { TokenCache } from "./token-cache.js";
export {
  ASYMMETRIC_ALGORITHMS,
  type AuthFailure,
  type AuthResult,
  type AuthSettings,
  type Identity,
} from "./types.js";
