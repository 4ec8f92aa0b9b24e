export { type BackendReadiness, createGatewayReadiness, type ReadinessSources } from "./gateway-readiness.js";
export {
  CHECK_TIMEOUT_MS,
  type CheckResult,
  cachedCheck,
  checkReadiness,
  type Readiness,
  type ReadinessCheck,
} from "./readiness.js";
export { CONNECT_TIMEOUT_MS, tcpProbe } from "./tcp-probe.js";
