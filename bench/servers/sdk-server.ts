// P: the official MCP TypeScript SDK server, stateless Streamable HTTP as its docs recommend for
// production (a new server and transport per request), one tool calling the backend with grpc-js.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { credentials } from "@grpc/grpc-js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

type StreamableOptions = ConstructorParameters<typeof StreamableHTTPServerTransport>[0];

import { z } from "zod";
import {
  type GetHTTPItemResponse,
  InventoryServiceClient,
} from "../../gen/grpc-js/mcpengine/testing/v1/catalog.js";

const client = new InventoryServiceClient(process.env.BACKEND ?? "", credentials.createInsecure());

function buildServer(): McpServer {
  const server = new McpServer({ name: "sdk-bench", version: "1.0.0" });
  server.registerTool(
    "inv_get_http_item",
    {
      description: "Look up one item by its SKU.",
      inputSchema: { sku: z.string() },
      outputSchema: { item: z.object({ sku: z.string(), name: z.string(), quantity: z.string() }).partial() },
    },
    async ({ sku }) => {
      const res = await new Promise<GetHTTPItemResponse>((resolve, reject) =>
        client.getHttpItem({ sku }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      const structured = {
        item: { sku: res.item?.sku ?? "", name: res.item?.name ?? "", quantity: res.item?.quantity ?? "0" },
      };
      return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
    },
  );
  return server;
}

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", async () => {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true } as StreamableOptions);
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString()));
  });
});
http.listen(0, "127.0.0.1", () => process.stdout.write(`READY ${(http.address() as AddressInfo).port}\n`));
