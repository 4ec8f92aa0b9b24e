// B3: the least any translator does — B2 plus reading and parsing the JSON-RPC body, ProtoJSON →
// protobuf for the request, protobuf → ProtoJSON for the reply, and the tool result as JSON (text
// and structured content). No routing, checks, limits, sessions or observability: the floor under
// the gateway's translation, against which G's overhead beyond it shows.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, constants } from "node:http2";
import type { AddressInfo } from "node:net";
import {
  createFileRegistry,
  type DescMessage,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const image = new URL("../../gen/image.binpb", import.meta.url);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
const input = registry.getMessage("mcpengine.testing.v1.GetHTTPItemRequest") as DescMessage;
const output = registry.getMessage("mcpengine.testing.v1.GetHTTPItemResponse") as DescMessage;
const session = connect(`http://${process.env.BACKEND}`);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("error", () => {});
  req.on("end", () => {
    const msg = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const bytes = toBinary(input, fromJson(input, msg.params.arguments, { registry }));
    const frame = Buffer.allocUnsafe(5 + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, 5);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: "/mcpengine.testing.v1.InventoryService/GetHTTPItem",
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    let reply: Buffer | undefined;
    stream.on("data", (c: Buffer) => {
      reply = c;
    });
    stream.on("error", () => res.writeHead(502).end());
    stream.on("end", () => {
      if (!reply) return void res.writeHead(502).end();
      const json = toJson(output, fromBinary(output, reply.subarray(5)), { registry });
      const text = JSON.stringify(json);
      const result = { content: [{ type: "text", text }], structuredContent: json };
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result }));
    });
    stream.end(frame);
  });
});
server.listen(0, "127.0.0.1", () =>
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`),
);
process.once("SIGINT", () => process.exit(0));
