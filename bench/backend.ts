// The gRPC backend every bench target calls: InventoryService on grpc-js.
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import {
  type InventoryServiceServer,
  InventoryServiceService,
} from "../gen/grpc-js/mcpengine/testing/v1/catalog.js";

const unimplemented = (_call: unknown, cb: (err: Error) => void) =>
  cb(Object.assign(new Error("unimplemented"), { code: status.UNIMPLEMENTED }));

const server = new Server();
const impl: InventoryServiceServer = {
  // "big:<n>" asks for a reply whose name is n bytes long (the large-reply workloads).
  getHttpItem: (call, cb) => {
    const sku = call.request.sku;
    const big = /^big:(\d+)$/.exec(sku);
    const name = big ? "x".repeat(Number(big[1])) : `Item ${sku}`;
    cb(null, { item: { sku, name, quantity: "42" } });
  },
  deleteItem: unimplemented,
  auditItem: unimplemented,
  uploadItems: unimplemented,
  tailItem: (call) => {
    const payload = "x".repeat(1024);
    for (let i = 0; i < call.request.count; i++)
      call.write({ item: { sku: call.request.sku, name: payload, quantity: String(i) } });
    call.end();
  },
};
server.addService(InventoryServiceService, impl);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`READY ${port}\n`);
});
