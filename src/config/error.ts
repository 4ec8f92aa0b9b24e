/**
 * What went wrong, as a stable string to switch on:
 * - `not_found`: there is no file at the path given (or at the default path);
 * - `unreadable`: the file exists but cannot be read;
 * - `invalid`: the text is not valid YAML, or a setting is missing, unknown or wrong.
 */
export type ConfigErrorCode = "not_found" | "unreadable" | "invalid";

/**
 * A configuration problem, with the place it was found. The message reads
 * `<source>: <path>: <detail>`, e.g. `mcpengine.yaml: backends[1].target: must be …`;
 * without a path (the file as a whole) it is `<source>: <detail>`.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  /** Where the configuration came from: the file path as given, or a label such as `demo`. */
  readonly source: string;
  /** Key path of the offending setting, e.g. `backends[1].target`; empty for the document as a whole. */
  readonly path: string;
  /** The problem itself, without source and path. */
  readonly detail: string;

  constructor(
    source: string,
    path: string,
    detail: string,
    options: { code?: ConfigErrorCode; cause?: unknown } = {},
  ) {
    super(
      path ? `${source}: ${path}: ${detail}` : `${source}: ${detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = options.code ?? "invalid";
    this.source = source;
    this.path = path;
    this.detail = detail;
  }
}
