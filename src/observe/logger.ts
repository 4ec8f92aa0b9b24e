import pino, { type Logger as PinoLogger } from "pino";
import { prettyLine } from "./pretty.js";
import { redactKeys, redactText } from "./redact.js";

/** The gateway's logger: a pino logger (any pino logger can be given to the gateway). */
export type Logger = PinoLogger;

/** The thresholds of `--log-level`, most verbose first; `silent` logs nothing. */
export const LOG_THRESHOLDS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
export type LogThreshold = (typeof LOG_THRESHOLDS)[number];

/** `--log-format`: one JSON object per line, or a line for people. */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where finished lines go. */
export interface LogSink {
  write(line: string): unknown;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Least severe level written (default `info`). */
  readonly level?: LogThreshold;
  /** Line format (default `json`). */
  readonly format?: LogFormat;
  /**
   * Where lines go. Default: standard error through pino's asynchronous
   * destination, flushed when the process exits (standard output stays free
   * for commands that print results, like `mcpengine tools`).
   */
  readonly sink?: LogSink;
}

/**
 * Creates the gateway's logger. Every line is redacted twice over before it is
 * written: secret-named keys by {@link redactKeys}, credential-shaped text by
 * {@link redactText} over the finished line (redact.ts), so a token inside an
 * error message is caught as surely as one in an `authorization` field.
 * Levels are written by name (`"level":"info"`), readable without pino's tools.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const sink: LogSink = options.sink ?? pino.destination({ dest: 2, sync: false });
  const format = options.format ?? "json";
  return pino(
    {
      level: options.level ?? "info",
      formatters: { level: (label) => ({ level: label }), log: redactKeys },
    },
    redactingSink(sink, format),
  );
}

/** A logger that writes nothing (the default of a gateway made without one). */
export function silentLogger(): Logger {
  return pino({ level: "silent" }, { write: () => {} });
}

/** Whether `value` is a threshold of `--log-level`. */
export function isLogThreshold(value: string): value is LogThreshold {
  return (LOG_THRESHOLDS as readonly string[]).includes(value);
}

/** Whether `value` is a format of `--log-format`. */
export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

/** The sink behind a pass of {@link redactText} over each line (and the pretty formatter, when asked). */
function redactingSink(sink: LogSink, format: LogFormat): LogSink {
  const write =
    format === "pretty"
      ? (line: string) => sink.write(prettyLine(redactText(line)))
      : (line: string) => sink.write(redactText(line));
  return {
    write,
    flush: (cb) => (sink.flush ? sink.flush(cb) : cb?.()),
    flushSync: () => sink.flushSync?.(),
  };
}
