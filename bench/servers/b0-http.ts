// B0: the HTTP floor — node:http answering a fixed JSON-RPC tools/call result.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  result: {
    content: [{ type: "text", text: '{"item":{"sku":"A1","name":"Item A1","quantity":"42"}}' }],
    structuredContent: { item: { sku: "A1", name: "Item A1", quantity: "42" } },
  },
});
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body));
});
server.listen(0, "127.0.0.1", () =>
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`),
);
process.once("SIGINT", () => process.exit(0));
