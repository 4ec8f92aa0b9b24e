// B2: node:http → one pre-encoded gRPC unary call over h2c → fixed reply (one hop, no translation).
import { createServer } from "node:http";
import { connect, constants } from "node:http2";
import type { AddressInfo } from "node:net";
import { GetHTTPItemRequest } from "../../gen/grpc-js/mcpengine/testing/v1/catalog.js";

const backend = process.env.BACKEND ?? "";
const session = connect(`http://${backend}`);
const message = GetHTTPItemRequest.encode({ sku: "A1" }).finish();
const frame = Buffer.alloc(5 + message.length);
frame.writeUInt32BE(message.length, 1);
Buffer.from(message).copy(frame, 5);
const reply = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  result: { content: [{ type: "text", text: "ok" }], structuredContent: { ok: true } },
});

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: "/mcpengine.testing.v1.InventoryService/GetHTTPItem",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("data", () => {});
    stream.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(reply));
    stream.on("error", () => res.writeHead(502).end());
    stream.end(frame);
  });
});
server.listen(0, "127.0.0.1", () =>
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`),
);
process.once("SIGINT", () => process.exit(0));
