import { describe, expect, it } from "vitest";
import { buildTools, CatalogError, type ToolDef } from "../../src/catalog/index.js";
import { imageService } from "../support/image.js";

const inventory = imageService("mcpengine.testing.v1.InventoryService");
const admin = imageService("mcpengine.testing.v1.AdminService");
const smack = imageService("smack.v1.SmackService");
const everything = imageService("conformance.v1.EverythingService");

function byName(tools: ToolDef[]): Map<string, ToolDef> {
  return new Map(tools.map((t) => [t.name, t]));
}

describe("buildTools", () => {
  const tools = byName(buildTools([{ backend: "inv", services: [inventory, admin] }]));

  it("derives snake_case names with the service prefix", () => {
    expect([...tools.keys()]).toEqual(["get_stats", "inv_get_http_item", "inv_tail_item", "remove_item"]);
  });

  it("takes the description from the RPC comment when the option has none", () => {
    expect(tools.get("inv_get_http_item")?.description).toBe("Look up one item by its SKU.");
  });

  it("leaves buf lint directives out of a description taken from a comment", () => {
    const [exportTool] = buildTools([
      { backend: "exp", services: [imageService("mcpengine.testing.v1.ExportService")] },
    ]);
    expect(exportTool?.description).toBe("Export a table; the export runs on after the call returns.");
  });

  it("resolves a long-running operation's types (AIP-151): its result schema is the response's, and it may run as a task", () => {
    const [exportTool] = buildTools([
      { backend: "exp", services: [imageService("mcpengine.testing.v1.ExportService")] },
    ]);
    expect(exportTool?.operation?.response.typeName).toBe("mcpengine.testing.v1.ExportResult");
    expect(exportTool?.operation?.metadata?.typeName).toBe("mcpengine.testing.v1.ExportProgress");
    expect(Object.keys((exportTool?.outputSchema?.properties as object) ?? {})).toEqual(["uri", "rows"]);
    expect(exportTool?.task).toBe("optional");
    // Other RPCs have no operation.
    expect(tools.get("inv_get_http_item")?.operation).toBeUndefined();
  });

  it("prefers the option's name, title, description and hints", () => {
    const t = tools.get("remove_item");
    expect(t?.title).toBe("Remove item");
    expect(t?.description).toBe("Remove an item for good.");
    expect(t?.annotations).toEqual({ title: "Remove item", destructiveHint: true, idempotentHint: true });
  });

  it("marks NO_SIDE_EFFECTS methods read-only", () => {
    expect(tools.get("inv_get_http_item")?.annotations).toEqual({ readOnlyHint: true });
    expect(tools.get("inv_tail_item")?.annotations).toEqual({});
  });

  it("uses method scopes, else the service's default scopes", () => {
    expect(tools.get("remove_item")?.scopes).toEqual(["inventory.write"]);
    expect(tools.get("inv_get_http_item")?.scopes).toEqual(["inventory.read"]);
    expect(tools.get("get_stats")?.scopes).toEqual([]);
  });

  it("skips hidden methods, hidden services and client streaming", () => {
    expect(tools.has("inv_audit_item")).toBe(false);
    expect(tools.has("reset_inventory")).toBe(false);
    expect(tools.has("inv_upload_items")).toBe(false);
  });

  it("marks server-streaming tools and wraps their output in messages", () => {
    const t = tools.get("inv_tail_item");
    expect(t?.streaming).toBe(true);
    expect(t?.outputSchema).toMatchObject({ type: "object", properties: { messages: { type: "array" } } });
  });

  it("lets a server-streaming tool run as a task and a unary one not, unless the option says otherwise", () => {
    expect(tools.get("inv_tail_item")?.task).toBe("optional");
    expect(tools.get("inv_get_http_item")?.task).toBe("never");
    const fixtures = byName(buildTools([{ backend: "e", services: [everything] }]));
    const support = Object.fromEntries(
      ["greet", "slow_compute", "failing_job", "test_tool_with_logging"].map((n) => [
        n,
        fixtures.get(n)?.task,
      ]),
    );
    expect(support).toEqual({
      greet: "never",
      slow_compute: "optional",
      failing_job: "required",
      test_tool_with_logging: "optional",
    });
  });

  it("names Smack's tools as the product brief says", () => {
    const names = buildTools([{ backend: "smack", services: [smack] }]).map((t) => t.name);
    expect(names).toEqual(["list_channels", "read_channel", "watch_channel", "write_to_channel"]);
  });

  it("refuses two methods with the same tool name, naming both", () => {
    const build = () =>
      buildTools([
        { backend: "a", services: [smack] },
        { backend: "b", services: [smack] },
      ]);
    expect(build).toThrow(CatalogError);
    expect(build).toThrow(
      /read_channel.*smack\.v1\.SmackService\.ReadChannel \(backend "a"\).*\(backend "b"\)/,
    );
  });
});
