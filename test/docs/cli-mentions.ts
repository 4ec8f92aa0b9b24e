import { prose } from "./markdown.js";

/** One command as its own help describes it. */
export interface CommandSpec {
  /** Its flags, short and long, `--help` and `-h` included. */
  readonly flags: ReadonlySet<string>;
  /**
   * Words its usage line allows as the first argument (`proxy install <url>`: `install`); empty
   * when the command takes no such words.
   */
  readonly subcommands: ReadonlySet<string>;
}

/** The CLI as its own help describes it: each command, its flags and its sub-commands. */
export type CommandTable = ReadonlyMap<string, CommandSpec>;

/**
 * Reads the command table from the text `mcpengine help` prints (the `Commands:` section) and
 * each command's `--help` (its usage line and `Options:` lines), so that the docs are checked
 * against the real table in src/cli/main.ts rather than a copy of it.
 */
export function readCommandTable(overview: string, commandHelp: (command: string) => string): CommandTable {
  const table = new Map<string, CommandSpec>();
  const section = overview.split("Commands:\n")[1] ?? "";
  for (const line of section.split("\n")) {
    const m = /^ {2}([a-z][\w-]*) {2,}\S/.exec(line);
    if (!m?.[1]) continue;
    const command = m[1];
    const flags = new Set(["--help", "-h"]);
    const subcommands = new Set<string>();
    if (command !== "help" && command !== "version") {
      const help = commandHelp(command);
      for (const option of help.matchAll(/^ {2}(?:(-\w), )?\s*(--[\w-]+)/gm)) {
        if (option[1]) flags.add(option[1]);
        if (option[2]) flags.add(option[2]);
      }
      // "Usage: mcpengine proxy <url> | install <url> | logout <url> | status <url> [options]"
      const usage = new RegExp(`^Usage: mcpengine ${command} (.*?)\\[options\\]`, "m").exec(help)?.[1] ?? "";
      for (const word of usage.split(/[\s|]+/)) if (/^[a-z][\w-]*$/.test(word)) subcommands.add(word);
    }
    table.set(command, { flags, subcommands });
  }
  return table;
}

/**
 * Flags of other programs that the docs show in inline code on their own, each with the program
 * it belongs to; any other lone `--flag` must be one of `mcpengine`'s.
 */
export const FOREIGN_FLAGS: ReadonlyMap<string, string> = new Map([
  ["--requirements", "the MCP conformance suite"],
  ["--cli", "the MCP Inspector"],
  ["--transport", "the MCP Inspector"],
  ["--method", "the MCP Inspector"],
  ["--import", "node"],
  ["--expose-gc", "node"],
  ["--cpu-prof", "node"],
  ["--omit", "npm"],
  ["--force-recreate", "docker compose"],
  ["--http2-prior-knowledge", "buf curl"],
  ["--emit-defaults", "buf curl"],
  ["--scale", "docker compose"],
]);

/** One place in a text that names a command or a flag the CLI does not have. */
export interface Problem {
  readonly line: number;
  readonly message: string;
}

/**
 * Finds `mcpengine <command> [--flag …]` in the code of a Markdown text (code blocks and inline
 * code spans; also `bin/mcpengine.js <command>` and `npm run demo -- --flag`) and reports commands
 * the table lacks and flags the command does not take. A lone inline `--flag` must belong to some
 * command, or be one of {@link FOREIGN_FLAGS}.
 */
export function cliProblems(markdown: string, table: CommandTable): Problem[] {
  const problems: Problem[] = [];
  const allFlags = new Set([...table.values()].flatMap((spec) => [...spec.flags]));
  const outside = prose(markdown).split("\n");
  markdown.split("\n").forEach((line, i) => {
    const inBlock = outside[i] === "" && line !== "";
    const pieces = inBlock ? [line] : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "");
    for (const piece of pieces) {
      for (const use of invocations(piece)) {
        if (use.command === "") {
          problems.push({
            line: i + 1,
            message: `"mcpengine" has no flag ${use.flags.join(" ")}, in: ${piece.trim()}`,
          });
          continue;
        }
        const spec = table.get(use.command);
        if (!spec) {
          // A word after "mcpengine" in prose or a log message ("mcpengine listening on …") is no
          // command; in a shell line, or a typo away from a command, it is meant as one.
          const shell = inBlock && /^\s*(?:\$\s*)?(?:npx |node \S*)?mcpengine(?:\.js)?\s/.test(piece);
          const typo = [...table.keys()].some((c) => editDistance(c, use.command) <= 2);
          if (shell || typo) {
            problems.push({
              line: i + 1,
              message: `unknown command "mcpengine ${use.command}" in: ${piece.trim()}`,
            });
          }
          continue;
        }
        const word = use.first;
        if (
          spec.subcommands.size > 0 &&
          word !== undefined &&
          /^[a-z][\w-]*$/.test(word) &&
          !spec.subcommands.has(word)
        ) {
          problems.push({
            line: i + 1,
            message: `"mcpengine ${use.command}" has no sub-command "${word}" (${[...spec.subcommands].join(", ")}), in: ${piece.trim()}`,
          });
        }
        for (const flag of use.flags) {
          if (!spec.flags.has(flag)) {
            problems.push({
              line: i + 1,
              message: `"mcpengine ${use.command}" has no flag ${flag}, in: ${piece.trim()}`,
            });
          }
        }
      }
      const lone = /^(--[a-z][\w-]*)(?:[ =].*)?$/.exec(piece.trim());
      if (!inBlock && lone?.[1] && !allFlags.has(lone[1]) && !FOREIGN_FLAGS.has(lone[1])) {
        problems.push({ line: i + 1, message: `no mcpengine command has the flag ${lone[1]}` });
      }
    }
  });
  return problems;
}

/**
 * A command and the flags after it, up to the end of that command (a comment, `|`, `;`, `&&`);
 * command "" for a flag given to `mcpengine` itself.
 */
interface Invocation {
  readonly command: string;
  /** The first argument after the command, when it is a plain word (a sub-command, or a typo of one). */
  readonly first?: string;
  readonly flags: readonly string[];
}

function invocations(code: string): Invocation[] {
  const out: Invocation[] = [];
  const pattern =
    /(?:^|[\s/(])(?:mcpengine(?:\.js)?|npm run(?: --silent| -s)? demo(?= ))\s+(--?[\w-]+|[a-z][\w-]*)?([^#|;&]*)/g;
  for (const m of code.matchAll(pattern)) {
    const whole = m[0];
    const first = m[1];
    const rest = m[2] ?? "";
    const demo = /npm run/.test(whole);
    if (!demo && first === undefined) continue;
    // `mcpengine --version` / `mcpengine --help`: a flag of the program, not of a command.
    if (!demo && first?.startsWith("-")) {
      if (!["--version", "-v", "--help", "-h"].includes(first)) {
        out.push({ command: "", flags: [first] });
      }
      continue;
    }
    const command = demo ? "demo" : (first ?? "");
    const args = demo ? `${first ?? ""} ${rest}` : rest;
    const word = /^\s*([a-z][\w-]*)(?=\s|$)/.exec(args)?.[1];
    out.push({
      command,
      ...(word !== undefined && !demo ? { first: word } : {}),
      flags: [...args.matchAll(/(?:^|\s)(--?[a-z][\w-]*)/g)].map((f) => f[1] ?? ""),
    });
  }
  return out;
}

/** Levenshtein distance, for telling a typo of a command from a word that is not meant as one. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] ?? 0;
}
