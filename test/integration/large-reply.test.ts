import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService, ItemSchema } from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { inventoryBackend } from "../support/image.js";
import { statelessRequest } from "../support/stateless.js";

/**
 * Large replies through a real gateway: the JSON answer is written in parts
 * (structured content serialized once, ASCII parts as Latin-1), so its length
 * and bytes must come out exactly right, ASCII or not, JSON or SSE.
 */

/** `sku` "<kind>:<n>" asks for an item whose name is n characters of that kind. */
const NAMES: Record<string, string> = { ascii: "x", latin: "é", emoji: "🙂", quote: '"\\' };

let backend: { url: string; close(): Promise<void> };
let listener: HttpListener;

beforeAll(async () => {
  backend = await startConnectServer(InventoryService, {
    async getHTTPItem(req) {
      const [kind = "ascii", n = "0"] = req.sku.split(":");
      const name = (NAMES[kind] ?? "x").repeat(Number(n));
      return { item: create(ItemSchema, { sku: req.sku, name, quantity: 1n }) };
    },
    async *tailItem(req) {
      for (let i = 0; i < req.count; i++) {
        yield {
          item: create(ItemSchema, { sku: req.sku, name: "🙂".repeat(200_000), quantity: BigInt(i + 1) }),
        };
      }
    },
  });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [inventoryBackend(backend.url)],
    }),
    { source: "test" },
  );
  listener = await (await createGateway(config)).listen();
});
afterAll(async () => {
  await listener?.close();
  await backend?.close();
});

async function callItem(sku: string): Promise<{ res: Response; bytes: Buffer }> {
  const r = statelessRequest(1, "tools/call", { name: "inv_get_http_item", arguments: { sku } });
  const res = await fetch(`${listener.url}/mcp`, { method: "POST", headers: r.headers, body: r.body });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe("large replies", () => {
  for (const kind of Object.keys(NAMES)) {
    it(`answers a ${kind} reply of about 1 MiB whole, with its exact length`, async () => {
      const n = Math.floor(1_048_576 / (NAMES[kind] as string).length);
      const { res, bytes } = await callItem(`${kind}:${n}`);
      expect(res.status).toBe(200);
      expect(Number(res.headers.get("content-length"))).toBe(bytes.length);
      const body = JSON.parse(bytes.toString("utf8"));
      const name = (NAMES[kind] as string).repeat(n);
      expect(body.id).toBe(1);
      expect(body.result.structuredContent.item.name).toBe(name);
      expect(JSON.parse(body.result.content[0].text)).toEqual(body.result.structuredContent);
      expect(body.result.isError).toBeUndefined();
    });
  }

  it("answers a large streamed result as the last SSE event, after its progress events", async () => {
    const r = statelessRequest(2, "tools/call", {
      name: "inv_tail_item",
      arguments: { sku: "s", count: 2 },
      _meta: { progressToken: "p" },
    });
    const body = JSON.parse(r.body);
    body.params._meta = { ...body.params._meta, progressToken: "p" };
    const res = await fetch(`${listener.url}/mcp`, {
      method: "POST",
      headers: r.headers,
      body: JSON.stringify(body),
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = (await res.text())
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => JSON.parse(l.slice(6)));
    expect(events.map((e) => e.method ?? "result")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "result",
    ]);
    const messages = events[2].result.structuredContent.messages;
    expect(messages.map((m: { item: { quantity: string } }) => m.item.quantity)).toEqual(["1", "2"]);
    expect(messages[1].item.name).toBe("🙂".repeat(200_000));
    expect(JSON.parse(events[2].result.content[0].text)).toEqual(events[2].result.structuredContent);
  });
});
