import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** The `src/` files a source file imports (relative specifiers, type-only imports included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = resolve(dirname(file), (m[1] as string).replace(/\.js$/, ".ts"));
    if (target.startsWith(SRC)) out.add(target);
  }
  return [...out];
}

/** Every import cycle reachable from `start`, each as the files in order (depth-first). */
function cyclesFrom(start: string): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const walk = (file: string, path: string[]) => {
    const at = path.indexOf(file);
    if (at >= 0) {
      cycles.push([...path.slice(at), file]);
      return;
    }
    if (done.has(file)) return;
    for (const next of importsOf(file)) walk(next, [...path, file]);
    done.add(file);
  };
  walk(start, []);
  return cycles;
}

describe("the catalog's imports", () => {
  const catalog = readdirSync(join(SRC, "catalog"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(SRC, "catalog", f));

  it.each(catalog.map((f) => [f.slice(SRC.length), f]))("%s is on no import cycle", (_, file) => {
    const cycles = cyclesFrom(file).map((c) => c.map((f) => f.slice(SRC.length)).join(" → "));
    expect(cycles).toEqual([]);
  });
});
