export { leadingComment } from "./comments.js";
export { isValidToolName, snakeCase } from "./naming.js";
export {
  type BackendServices,
  buildTools,
  CatalogError,
  type ToolAnnotations,
  type ToolDef,
} from "./tools.js";
