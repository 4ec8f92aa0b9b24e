#!/usr/bin/env node
// Runs the compiled build (`npm run build` writes dist/) when it is newer than every source file,
// and otherwise the TypeScript sources, which tsx compiles on load. The build is the production
// path: tsx keeps function names by wrapping each closure it creates, a cost on every call.
import { readdirSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);
const { main } = await (builtIsFresh() ? import("../dist/src/cli/main.js") : fromSource());
process.exitCode = await main(process.argv.slice(2));

async function fromSource() {
  const { register } = await import("tsx/esm/api");
  register();
  return import("../src/cli/main.ts");
}

/** True when dist/ exists and no TypeScript source it was built from changed since. */
function builtIsFresh() {
  let built;
  try {
    built = statSync(new URL("dist/src/cli/main.js", root)).mtimeMs;
  } catch {
    return false;
  }
  for (const dir of ["src/", "gen/", "examples/"]) {
    for (const file of readdirSync(new URL(dir, root), { recursive: true })) {
      if (file.endsWith(".ts") && statSync(new URL(dir + file, root)).mtimeMs > built) return false;
    }
  }
  return true;
}
