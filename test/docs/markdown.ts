import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The info string's first word (`yaml`, `proto`, `sh`…), or "" when there is none. */
  readonly lang: string;
  readonly text: string;
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
  /**
   * The `<!-- check: … -->` comment above the block. It covers the blocks after it, prose between
   * them allowed, up to the block that shows the outcome ({@link outcomeOf}). A heading or another
   * check comment ends it early.
   */
  readonly check: Check | undefined;
}

/** A `<!-- check: kind argument -->` comment: what a test verifies of the blocks under it. */
export interface Check {
  readonly kind: string;
  readonly argument: string;
  /** 1-based line of the comment; the blocks of one check share it. */
  readonly line: number;
}

/**
 * The block that ends a check: its language, and which block of that language it is. The result
 * kinds show an input JSON block (a backend's reply) before the outcome; `config-error` shows a
 * YAML configuration, then the error as `text`; `defaults` is one YAML block; the steps of the
 * getting-started walkthrough are one block each (its proto file, its configuration, the output of
 * `mcpengine tools`); `file <path>` is one block of any language ("*") that must equal that file.
 */
export function outcomeOf(kind: string): { readonly lang: string; readonly nth: number } {
  switch (kind) {
    case "tool-result":
    case "prompt-result":
    case "reply":
      return { lang: "json", nth: 2 };
    case "config-error":
      return { lang: "text", nth: 1 };
    case "defaults":
    case "walkthrough-config":
      return { lang: "yaml", nth: 1 };
    case "walkthrough-proto":
      return { lang: "proto", nth: 1 };
    case "walkthrough-tools":
      return { lang: "text", nth: 1 };
    case "file":
      return { lang: "*", nth: 1 };
    default:
      return { lang: "json", nth: 1 };
  }
}

/** A Markdown file of the repository, read once. */
export interface Doc {
  /** Path relative to the root, e.g. `docs/auth.md`. */
  readonly path: string;
  readonly text: string;
  readonly blocks: readonly CodeBlock[];
}

/** Every `docs/*.md`, by name. */
export function docsFiles(): Doc[] {
  return readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => readDoc(`docs/${f}`));
}

/** One Markdown file by its path from the root. */
export function readDoc(path: string): Doc {
  const text = readFileSync(join(ROOT, path), "utf8");
  return { path, text, blocks: codeBlocks(text) };
}

/** The fenced code blocks (``` or ~~~, three or more, possibly indented) of a Markdown text. */
export function codeBlocks(text: string): CodeBlock[] {
  const lines = text.split("\n");
  const out: CodeBlock[] = [];
  let check: Check | undefined;
  let left = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const comment = /^<!-- check: ([\w-]+)\s*(.*?) -->\s*$/.exec(line);
    if (comment) {
      check = { kind: comment[1] ?? "", argument: comment[2] ?? "", line: i + 1 };
      left = outcomeOf(check.kind).nth;
      continue;
    }
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (!open) {
      if (/^#{1,6}\s/.test(line)) check = undefined;
      continue;
    }
    const [, indent = "", fence = "```", lang = ""] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] ?? "";
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, "") === "") break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l);
    }
    out.push({ lang, text: `${body.join("\n")}\n`, line: i + 1, check });
    const ends = check ? outcomeOf(check.kind).lang : undefined;
    if (check && (ends === "*" || ends === lang) && --left === 0) check = undefined;
    i = j;
  }
  return out;
}

/** Markdown text outside fenced code blocks (links, headings, prose). */
export function prose(text: string): string {
  let inFence: string | undefined;
  return text
    .split("\n")
    .map((line) => {
      const fence = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence && (inFence === undefined || fence.startsWith(inFence))) {
        inFence = inFence === undefined ? fence : undefined;
        return "";
      }
      return inFence === undefined ? line : "";
    })
    .join("\n");
}

/** A link of a Markdown text: `[text](target)` or `![alt](target)`, inline code left out. */
export interface Link {
  readonly target: string;
  readonly line: number;
}

/** The inline links of a Markdown text (outside code blocks and code spans). */
export function links(text: string): Link[] {
  const out: Link[] = [];
  prose(text)
    .split("\n")
    .forEach((line, i) => {
      const plain = line.replace(/`[^`]*`/g, "");
      for (const m of plain.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (m[1]) out.push({ target: m[1], line: i + 1 });
      }
    });
  return out;
}

/**
 * The anchors a Markdown file offers: GitHub's slug of every heading (lower case, punctuation
 * dropped, spaces as `-`, `-1`, `-2`… for repeats) and every `<a id="…">`.
 */
export function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(text).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading?.[1] !== undefined) {
      const base = slug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) if (m[1]) out.add(m[1]);
  }
  return out;
}

/** GitHub's heading slug: markup and punctuation dropped, lower case, each space a `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/<[^>]+>/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}
