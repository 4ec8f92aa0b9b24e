export { leadingComment } from "./comments.js";
export { isValidToolName, snakeCase } from "./naming.js";
export { OPERATION_TYPE, type OperationTypes } from "./operations.js";
export { type BackendServices, CatalogError } from "./shared.js";
export {
  type Bound,
  buildSurface,
  type PromptArgument,
  type PromptDef,
  type ResourceDef,
  type ResourceTemplateDef,
  type Surface,
} from "./surface.js";
export {
  buildTools,
  type HeaderParam,
  type ToolAnnotations,
  type ToolDef,
  type ToolTaskSupport,
} from "./tools.js";
export { compileUriTemplate, type UriTemplate } from "./uri-template.js";
