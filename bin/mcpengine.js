#!/usr/bin/env node
// Runs the compiled build (`npm run build` writes dist/) when it is newer than every source file,
// and otherwise the TypeScript sources, which tsx compiles on load. The build is the production
// path: tsx keeps function names by wrapping each closure it creates, a cost on every call.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const { main } = await (builtIsFresh() ? import("../dist/src/cli/main.js") : fromSource());
process.exitCode = await main(process.argv.slice(2));

async function fromSource() {
  const { register } = await import("tsx/esm/api");
  register();
  return import("../src/cli/main.ts");
}

/** True when dist/ exists and no TypeScript source it was built from changed since. */
function builtIsFresh() {
  const entry = join(root, "dist", "src", "cli", "main.js");
  if (!existsSync(entry)) return false;
  const built = statSync(entry).mtimeMs;
  for (const dir of ["src", "gen", "examples"].map((d) => join(root, d)).filter(existsSync)) {
    for (const file of readdirSync(dir, { recursive: true })) {
      if (file.endsWith(".ts") && statSync(join(dir, file)).mtimeMs > built) return false;
    }
  }
  return true;
}
