import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "../config/index.js";
import { createGateway } from "../gateway.js";
import { createLogger, isLogFormat, isLogThreshold, LOG_THRESHOLDS, redactText } from "../observe/index.js";
import { VERSION } from "../version.js";
import { DEMO_OPTIONS, runDemo } from "./demo.js";
import { INIT_OPTIONS, runInit } from "./init.js";
import type { OptionSpec, OptionSpecs, OptionValues } from "./options.js";
import { onReloadSignal, onSignal, signalExitCode, stderrLog, waitForSignal } from "./process.js";
import { PROXY_OPTIONS, runProxyCommand } from "./proxy.js";
import { printTools } from "./tools.js";

/** A subcommand, after {@link defineCommand}: its help, and `main` taking the arguments after its name. */
interface Command {
  readonly name: string;
  readonly summary: string;
  usage(): string;
  main(args: readonly string[]): Promise<number>;
}

const CONFIG = {
  type: "string",
  short: "c",
  value: "file",
  default: "mcpengine.yaml",
  help: "The gateway configuration, YAML or JSON",
} as const satisfies OptionSpec;

const COMMANDS: readonly Command[] = [
  defineCommand({
    name: "serve",
    summary: "Run the MCP gateway in front of the configured gRPC backends",
    options: {
      config: CONFIG,
      "log-level": {
        type: "string",
        value: "level",
        default: "info",
        help: `Least severe log line written: ${LOG_THRESHOLDS.join(", ")} (info has a line per request)`,
      },
      "log-format": {
        type: "string",
        value: "format",
        default: "json",
        help: "Log lines as json (one object per line) or pretty (for a terminal)",
      },
    },
    run: (v) => serve(v.config, v["log-level"], v["log-format"]),
  }),
  defineCommand({
    name: "tools",
    summary: "Print the tool catalog (names, descriptions, schemas)",
    options: {
      config: CONFIG,
      json: { type: "boolean", help: "Print JSON: the tools/list shape with rpc, backend and scopes" },
    },
    run: (v) => tools(v.config, v.json),
  }),
  defineCommand({
    name: "proxy",
    summary: "Bridge a stdio MCP host to a remote MCP server, logging in with OAuth when it asks",
    options: PROXY_OPTIONS,
    positionals: {
      usage: "<url> | install <url> | logout <url> | status <url>",
      min: 1,
      max: 2,
      help:
        "Hosts spawn `mcpengine proxy <url>`: newline-delimited JSON-RPC on stdin/stdout, logs on stderr.\n" +
        "`install <url> --claude-desktop|--cursor|--claude-code` adds it to a host's config (or prints the entry);\n" +
        "`logout <url>` forgets the stored login for the server; `status <url>` shows it.",
    },
    run: runProxyCommand,
  }),
  defineCommand({
    name: "demo",
    summary: "Run Smack (gRPC on embedded Postgres), a demo OpenID provider and the gateway with login on",
    options: DEMO_OPTIONS,
    run: runDemo,
  }),
  defineCommand({
    name: "init",
    summary: "Write a commented starter mcpengine.yaml",
    options: INIT_OPTIONS,
    run: runInit,
  }),
];

/** The `mcpengine` command line; returns the process exit code (2: usage error, 1: failure). */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  switch (first) {
    case undefined:
      process.stderr.write(usage());
      return 2;
    case "help":
    case "--help":
    case "-h":
      return help(rest);
    case "version":
    case "--version":
    case "-v":
      process.stdout.write(`mcpengine ${VERSION}\n`);
      return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    process.stderr.write(`mcpengine: unknown command "${first}"\n\n${usage()}`);
    return 2;
  }
  return command.main(rest);
}

/** The overview printed by `mcpengine help`. */
function usage(): string {
  const rows: [string, string][] = [
    ...COMMANDS.map((c): [string, string] => [c.name, c.summary]),
    ["help", "Print this help, or a command's: mcpengine help <command>"],
    ["version", "Print the version (also --version, -v)"],
  ];
  return (
    `Usage: mcpengine <command> [options]\n\nCommands:\n${table(rows)}\n` +
    `Run "mcpengine <command> --help" for a command's options.\n`
  );
}

/** `mcpengine help [command]`. */
function help(args: readonly string[]): number {
  const [name, ...extra] = args;
  if (name === undefined) {
    process.stdout.write(usage());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`mcpengine help: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (extra[0] !== undefined) {
    process.stderr.write(`mcpengine help: unexpected argument "${extra[0]}"\n\n${usage()}`);
    return 2;
  }
  process.stdout.write(command.usage());
  return 0;
}

/**
 * Declares a command: its arguments are read against `options` (unknown options and stray
 * arguments answered with the command's usage and exit code 2, `-h`/`--help` with the usage and 0),
 * then `run` gets the values. A {@link ConfigError} or other failure is reported on stderr with exit code 1.
 */
function defineCommand<O extends OptionSpecs>(spec: {
  name: string;
  summary: string;
  options: O;
  /** Positional arguments, when the command takes any: how many, and how the usage shows them. */
  positionals?: {
    readonly usage: string;
    readonly min: number;
    readonly max: number;
    readonly help?: string;
  };
  run: (values: OptionValues<O>, positionals: readonly string[]) => Promise<number>;
}): Command {
  const prefix = `mcpengine ${spec.name}`;
  const commandUsage = () => {
    const rows = Object.entries(spec.options).map(([name, o]): [string, string] => [
      `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` <${o.value}>` : ""}`,
      `${o.help} (default: ${o.type === "boolean" ? "off" : (o.default ?? o.otherwise ?? "none")})`,
    ]);
    rows.push(["-h, --help", "Print this help"]);
    const args = spec.positionals ? ` ${spec.positionals.usage}` : "";
    const more = spec.positionals?.help ? `${spec.positionals.help}\n\n` : "";
    return `Usage: ${prefix}${args} [options]\n\n${spec.summary}.\n\n${more}Options:\n${table(rows)}`;
  };
  return {
    name: spec.name,
    summary: spec.summary,
    usage: commandUsage,
    async main(args) {
      const parsed = parseOptions(spec.options, args, spec.positionals?.max ?? 0);
      switch (parsed.kind) {
        case "help":
          process.stdout.write(commandUsage());
          return 0;
        case "error":
          process.stderr.write(`${prefix}: ${parsed.error}\n\n${commandUsage()}`);
          return 2;
        case "values":
          if (parsed.positionals.length < (spec.positionals?.min ?? 0)) {
            process.stderr.write(
              `${prefix}: missing ${spec.positionals?.usage ?? "arguments"}\n\n${commandUsage()}`,
            );
            return 2;
          }
          try {
            return await spec.run(parsed.values, parsed.positionals);
          } catch (err) {
            // A configuration error may quote a value, and a value may be a secret.
            process.stderr.write(`${prefix}: ${redactText(failure(err))}\n`);
            return 1;
          }
      }
    },
  };
}

/** The result of reading a command's arguments. */
type ParsedOptions<O extends OptionSpecs> =
  | { readonly kind: "values"; readonly values: OptionValues<O>; readonly positionals: readonly string[] }
  | { readonly kind: "help" }
  | { readonly kind: "error"; readonly error: string };

/**
 * Reads `args` against `options` with `node:util` `parseArgs`, in its lenient mode so that every
 * mistake comes back as a value with our own wording instead of a thrown TypeError. `-h`/`--help`
 * anywhere wins; a string option followed by something that looks like an option has no value
 * (give `--name=-x` to mean it), as in `parseArgs`' strict mode.
 */
function parseOptions<O extends OptionSpecs>(
  options: O,
  args: readonly string[],
  maxPositionals = 0,
): ParsedOptions<O> {
  const { tokens } = parseArgs({
    args: [...args],
    options: {
      ...Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          o.short ? { type: o.type, short: o.short } : { type: o.type },
        ]),
      ),
      help: { type: "boolean", short: "h" },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === "option" && t.name === "help")) return { kind: "help" };
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (const [name, o] of Object.entries(options)) values[name] = o.type === "boolean" ? false : o.default;
  for (const t of tokens) {
    switch (t.kind) {
      case "option-terminator":
        break;
      case "positional":
        if (positionals.length >= maxPositionals)
          return { kind: "error", error: `unexpected argument "${t.value}"` };
        positionals.push(t.value);
        break;
      case "option": {
        const o = options[t.name];
        if (!o) return { kind: "error", error: `unknown option "${t.rawName}"` };
        if (o.type === "boolean") {
          if (t.value !== undefined) return { kind: "error", error: `option "${t.rawName}" takes no value` };
          values[t.name] = true;
        } else {
          if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-"))) {
            return { kind: "error", error: `option "${t.rawName}" needs a value (--${t.name} <${o.value}>)` };
          }
          values[t.name] = t.value;
        }
      }
    }
  }
  // Each value was just set from its option's own type and default, which is what OptionValues<O> says.
  return { kind: "values", values: values as OptionValues<O>, positionals };
}

/** What a command prints for a failure; a missing config file also says how to give one. */
function failure(err: unknown): string {
  if (err instanceof ConfigError && err.code === "not_found") {
    return `${err.message}; give the configuration file with --config <file>`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Two aligned columns, each row indented by two spaces. */
function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}\n`).join("");
}

/**
 * `mcpengine serve`, until SIGTERM or SIGINT (SIGHUP reloads the configuration and
 * descriptors); then a graceful stop (docs/operations.md
 * "Shutdown"): no new connections and `/readyz` 503, GET streams ended with a `retry` hint,
 * requests under way given up to `drain_timeout`, then the sessions' live state and the backend
 * connections closed, and exit code 0. A second signal stops at once (128 + its number).
 */
async function serve(configFile: string, level: string, format: string): Promise<number> {
  if (!isLogThreshold(level) || !isLogFormat(format)) {
    const [option, value] = isLogThreshold(level) ? ["--log-format", format] : ["--log-level", level];
    process.stderr.write(`mcpengine serve: ${option} "${value}" is not one of the values --help lists\n`);
    return 2;
  }
  const logger = createLogger({ level, format });
  const config = await loadConfigFile(configFile);
  const gateway = await createGateway(config, {
    logger,
    metrics: { process: true },
    reloadConfig: () => loadConfigFile(configFile),
  });
  // SIGHUP: the configuration file and every backend's descriptors are read again (the outcome is
  // logged). Installed before the endpoint is announced: SIGHUP's default action ends the process.
  const stopReloads = onReloadSignal(() => {
    logger.info(`SIGHUP: reloading ${configFile}`);
    void gateway.reload();
  });
  const listener = await gateway.listen();
  process.stderr.write(
    `mcpengine: ${gateway.tools.length} tools, MCP endpoint ${listener.url}${config.path}\n`,
  );
  const signal = await waitForSignal();
  stopReloads();
  const limit = `${config.drainTimeoutMs / 1000}s`;
  stderrLog(`${signal}: draining (up to ${limit}); send it again to stop at once`);
  const unlisten = onSignal((again) => {
    stderrLog(`${again} during the drain: stopping now`);
    process.exit(signalExitCode(again));
  });
  try {
    if (!(await listener.drain(config.drainTimeoutMs))) {
      stderrLog(`requests still running after drain_timeout (${limit}) are cut off`);
    }
    await listener.close();
  } finally {
    unlisten();
  }
  stderrLog("stopped");
  return 0;
}

async function tools(configFile: string, json: boolean): Promise<number> {
  const config = await loadConfigFile(configFile);
  const gateway = await createGateway(config, { logger: createLogger({ level: "warn", format: "pretty" }) });
  printTools(gateway.tools, json);
  await gateway.close();
  return 0;
}
