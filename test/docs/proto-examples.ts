import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  createFileRegistry,
  type DescService,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { buildSurface, buildTools } from "../../src/catalog/index.js";
import { promptResult, toolResult } from "../../src/invoke/content.js";
import { replyJson } from "../../src/invoke/reply-json.js";
import { createCatalogView } from "../../src/mcp/catalog-view.js";
import { messageToJsonSchema } from "../../src/schema/index.js";
import type { CodeBlock } from "./markdown.js";
import { ROOT } from "./markdown.js";
import { fullValidateProto } from "./validate-proto.js";

/** The repository's buf, from `@bufbuild/buf` (works offline). */
export const BUF = join(ROOT, "node_modules", ".bin", "buf");

/** The package the proto snippets of the docs are compiled in. */
export const SNIPPET_PACKAGE = "docs.v1";

/** Imports every snippet may use, so that the docs can leave them out. */
const HEADER = `syntax = "proto3";
package ${SNIPPET_PACKAGE};
import "buf/validate/validate.proto";
import "google/api/field_behavior.proto";
import "google/longrunning/operations.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "mcpengine/v1/mcp.proto";
import "mcpengine/v1/options.proto";
`;

/** The repository's proto files the snippets import, as a reader copies them. */
const IMPORTED = [
  "mcpengine/v1/options.proto",
  "mcpengine/v1/mcp.proto",
  "google/api/field_behavior.proto",
  "google/longrunning/operations.proto",
  "google/rpc/status.proto",
];

/**
 * Compiles proto snippets (messages and services without `syntax`, `package` or imports) into one
 * file in package `docs.v1` with `buf build`, as the docs tell readers to, and returns the
 * registry of the image (comments included). A compile error is thrown with buf's message.
 */
export function compileSnippets(snippets: readonly string[]): FileRegistry {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-docs-proto-"));
  for (const file of IMPORTED) {
    const to = join(dir, "proto", file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(ROOT, "proto", file), to);
  }
  // The complete buf.validate, as readers get it from the BSR (the repository's copy is a subset).
  mkdirSync(join(dir, "proto", "buf", "validate"), { recursive: true });
  writeFileSync(join(dir, "proto", "buf", "validate", "validate.proto"), fullValidateProto());
  const file = join(dir, "proto", "docs", "v1", "docs.proto");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${HEADER}\n${snippets.join("\n")}`);
  const image = join(dir, "docs.binpb");
  execFileSync(BUF, ["build", "proto", "-o", image], { cwd: dir, stdio: "pipe", timeout: 60_000 });
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
}

/** The services of the snippets' file. */
function services(registry: FileRegistry): DescService[] {
  const file = registry.getFile("docs/v1/docs.proto");
  if (!file) throw new Error("docs/v1/docs.proto is not in the image");
  return file.services;
}

/**
 * What a check comment says its JSON block shows, computed from the compiled snippets:
 * - `input <Message>` / `output <Message>`: the JSON Schema of the message as tool arguments / result;
 * - `tool <name>`, `resource <uri>`, `resource-template <name>`, `prompt <name>`: the entry of
 *   tools/list, resources/list, resources/templates/list or prompts/list;
 * - `tool-names <Service>`: the names of the tools a service gives;
 * - `tool-result` / `prompt-result`: the MCP result the gateway makes of the ProtoJSON in the first
 *   JSON block (a `mcpengine.v1.ToolResult` / `PromptResult` reply);
 * - `reply <Message>`: the `structuredContent` the gateway makes of the reply in the first JSON block.
 * Each service is built on its own, so that examples may reuse tool names.
 */
export function actualFor(
  registry: FileRegistry,
  kind: string,
  argument: string,
  blocks: readonly CodeBlock[],
): unknown {
  switch (kind) {
    case "input":
    case "output": {
      const message = registry.getMessage(`${SNIPPET_PACKAGE}.${argument}`);
      if (!message) throw new Error(`message ${argument} is not defined by the snippets`);
      return messageToJsonSchema(message, { mode: kind });
    }
    case "tool":
    case "resource":
    case "resource-template":
    case "prompt": {
      const list = {
        tool: "tools",
        resource: "resources",
        "resource-template": "resourceTemplates",
        prompt: "prompts",
      } as const;
      const key = list[kind];
      const entries = services(registry).flatMap((service) => {
        const backends = [{ backend: "docs", services: [service] }];
        const view = createCatalogView({
          tools: buildTools(backends),
          surface: buildSurface(backends),
          backends: new Map(),
        });
        return view.lists[key].map((e) => e.wire);
      });
      const id = kind === "resource" ? "uri" : "name";
      const found = entries.filter((e) => e[id] === argument);
      if (found.length !== 1) throw new Error(`${found.length} ${key} entries have ${id} "${argument}"`);
      return found[0];
    }
    case "tool-names": {
      const service = services(registry).find((s) => s.name === argument);
      if (!service) throw new Error(`service ${argument} is not defined by the snippets`);
      return buildTools([{ backend: "docs", services: [service] }]).map((t) => t.name);
    }
    case "reply": {
      const message = registry.getMessage(`${SNIPPET_PACKAGE}.${argument}`);
      if (!message) throw new Error(`message ${argument} is not defined by the snippets`);
      const sent = firstJson(blocks, kind);
      return replyJson(message, fromJson(message, sent, { registry }), registry);
    }
    case "tool-result":
    case "prompt-result": {
      const reply = firstJson(blocks, kind) as { [k: string]: JsonValue };
      return kind === "tool-result" ? toolResult(reply) : promptResult(reply);
    }
    default:
      throw new Error(`unknown check "${kind}"`);
  }
}

/** The first JSON block of a check: the reply a backend sends. */
function firstJson(blocks: readonly CodeBlock[], kind: string): JsonObject {
  const input = blocks.find((b) => b.lang === "json");
  if (!input) throw new Error(`${kind} needs a JSON block with the reply`);
  return JSON.parse(input.text) as JsonObject;
}
