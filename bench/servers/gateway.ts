// The gateway under test, in front of the bench backend; AUTH_JWKS turns auth on. It runs the
// compiled build, as production does (`npm run build`; `npm run bench` builds first).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// GATEWAY_DIST: another build to run instead (`bench/quick.ts ab <dir>` compares two builds).
const built = process.env.GATEWAY_DIST
  ? new URL(`file://${process.env.GATEWAY_DIST}/src/index.js`)
  : new URL("../../dist/src/index.js", import.meta.url);
if (!existsSync(built)) throw new Error("no build in dist/: run `npm run build` first");
const { createGateway, parseConfig } = (await import(built.href)) as typeof import("../../src/index.js");

const image = fileURLToPath(new URL("../../gen/image.binpb", import.meta.url));
const auth = process.env.AUTH_JWKS
  ? {
      auth: {
        issuer: process.env.AUTH_ISSUER,
        audience: process.env.AUTH_AUDIENCE,
        jwksUri: process.env.AUTH_JWKS,
        cacheSize: 100_000,
      },
    }
  : {};
// REDIS puts sessions on Redis (the GR row), under a key prefix of this run's own.
const store = process.env.REDIS
  ? {
      store: { redis: process.env.REDIS, keyPrefix: `mcpengine-bench-${process.pid}:` },
      stateKey: Buffer.alloc(32, 1).toString("base64"),
    }
  : {};
const config = parseConfig(
  JSON.stringify({
    listen: "127.0.0.1:0",
    ...store,
    // One load generator opens every session (1,000 idle ones among them): no per-client cap.
    sessions: { maxSessionsPerClient: 100_000 },
    ...auth,
    backends: [
      {
        name: "inv",
        target: `http://${process.env.BACKEND}`,
        descriptors: image,
        services: ["mcpengine.testing.v1.InventoryService"],
        ...(process.env.AUTH_JWKS ? { identity: { mode: "none" } } : {}),
      },
    ],
  }),
);
// OBSERVE=off: no metrics and no spans (the GO row, against which their cost is measured).
const observe = process.env.OBSERVE === "off" ? { metrics: false, tracing: false } : {};
const listener = await (await createGateway(config, observe)).listen();
process.stdout.write(`READY ${new URL(listener.url).port}\n`);
// The bench asks for the heap after a full GC (the process runs with --expose-gc).
process.stdin.on("data", (b: Buffer) => {
  if (!b.toString().includes("heap")) return;
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`HEAP ${process.memoryUsage().heapUsed}\n`);
});
process.once("SIGINT", () => process.exit(0));
