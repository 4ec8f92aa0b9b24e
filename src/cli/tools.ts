import type { ToolDef } from "../catalog/index.js";

/** Prints the tool catalog, as JSON (the tools/list shape) or as readable text. */
export function printTools(tools: readonly ToolDef[], json: boolean): void {
  if (json) {
    const out = tools.map((t) => ({
      name: t.name,
      title: t.title,
      description: t.description,
      annotations: t.annotations,
      scopes: t.scopes,
      rpc: `${t.method.parent.typeName}/${t.method.name}`,
      backend: t.backend,
      inputSchema: t.inputSchema,
      outputSchema: t.outputSchema,
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  for (const t of tools) {
    const hints = Object.entries(t.annotations)
      .filter(([k]) => k !== "title")
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    process.stdout.write(`${t.name}  (${t.backend}: ${t.method.parent.typeName}/${t.method.name})\n`);
    if (t.title) process.stdout.write(`  title: ${t.title}\n`);
    if (t.description) process.stdout.write(`  ${t.description.replace(/\n/g, "\n  ")}\n`);
    if (hints) process.stdout.write(`  hints: ${hints}\n`);
    if (t.scopes.length > 0) process.stdout.write(`  scopes: ${t.scopes.join(" ")}\n`);
    process.stdout.write(`  input: ${JSON.stringify(t.inputSchema)}\n\n`);
  }
}
