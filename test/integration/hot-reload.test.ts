import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmack } from "../../examples/smack/server.js";
import { type GatewayConfig, parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { createLogger } from "../../src/observe/index.js";
import { IMAGE_PATH } from "../support/image.js";
import {
  INTEROP_SERVICE,
  type InteropBackend,
  startGrpcJsBackend,
} from "../support/interop/node-backends.js";
import { SseReader } from "../support/replicas/client.js";
import { statelessRequest } from "../support/stateless.js";

/** The repository's image with `method` taken out of InteropService (the same service, one tool fewer). */
function imageWithout(method: string): Uint8Array {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
  for (const file of set.file) {
    for (const service of file.service) {
      if (`${file.package}.${service.name}` === INTEROP_SERVICE) {
        service.method = service.method.filter((m) => m.name !== method);
      }
    }
  }
  return toBinary(FileDescriptorSetSchema, set);
}

interface Line {
  level: string;
  msg: string;
  [k: string]: unknown;
}

describe("hot reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-reload-"));
  const descriptors = join(dir, "interop.binpb");
  const logged: Line[] = [];
  const logger = createLogger({ level: "debug", sink: { write: (line) => logged.push(JSON.parse(line)) } });
  let backend: InteropBackend;
  let gateway: Gateway;
  let http: HttpListener;
  let client: Client | undefined;
  /** What `reloadConfig` returns next (the configuration file, as read again). */
  let nextConfig: () => GatewayConfig;

  const configFor = (backends: object[], extra: object = {}) =>
    parseConfig(JSON.stringify({ listen: "127.0.0.1:0", reload_interval: "0s", backends, ...extra }));

  beforeAll(async () => {
    backend = await startGrpcJsBackend();
    writeFileSync(descriptors, imageWithout("Repeat"));
    const config = configFor([
      { name: "interop", target: backend.url, descriptors, services: [INTEROP_SERVICE] },
    ]);
    nextConfig = () => config;
    gateway = await createGateway(config, { logger, reloadConfig: async () => nextConfig() });
    http = await gateway.listen();
  });
  afterAll(async () => {
    await client?.close();
    await http?.close();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a tool added to a descriptor file to a connected session, told by tools/list_changed", async () => {
    client = new Client({ name: "reload-test", version: "1.0.0" });
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
    const loadedAt = gateway.catalogLoadedAt;

    // The file is watched: writing it is enough.
    writeFileSync(descriptors, readFileSync(IMAGE_PATH));
    await expect.poll(() => changed, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "repeat"]);
    const result = await client.callTool({
      name: "repeat",
      arguments: { record: { text: "again" }, count: 2 },
    });
    expect(result.isError).toBeFalsy();
    expect(gateway.catalogLoadedAt.getTime()).toBeGreaterThan(loadedAt.getTime());
    expect(logged).toContainEqual(
      expect.objectContaining({
        msg: "catalog reloaded: 2 tools, added repeat",
        added: ["repeat"],
        removed: [],
      }),
    );
  });

  it("answers a reload that changes nothing without swapping the catalog", async () => {
    const loadedAt = gateway.catalogLoadedAt;
    expect(await gateway.reload()).toEqual({ changed: false, tools: 2 });
    expect(gateway.catalogLoadedAt).toBe(loadedAt);
  });

  it("keeps the last good catalog when a descriptor file is broken, and says why", async () => {
    const before = logged.length;
    writeFileSync(descriptors, "not a descriptor set");
    const outcome = await gateway.reload();
    expect(outcome).toEqual({ changed: false, tools: 2, error: expect.stringContaining(descriptors) });
    expect(logged.slice(before)).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: expect.stringMatching(/^reload failed; still serving the last good catalog: /),
      }),
    );
    const failures = await gateway.metrics?.getSingleMetricAsString("mcpengine_reload_failures_total");
    expect(failures).toMatch(/^mcpengine_reload_failures_total [1-9]/m);
    const result = await client?.callTool({
      name: "repeat",
      arguments: { record: { text: "still" }, count: 1 },
    });
    expect(result?.isError).toBeFalsy();
    writeFileSync(descriptors, readFileSync(IMAGE_PATH));
  });

  it("adds a backend from the re-read configuration, and refuses one whose tools clash", async () => {
    const other = await startGrpcJsBackend();
    try {
      // Same tool names without a prefix: the catalog would have two "echo" tools.
      nextConfig = () =>
        configFor([
          { name: "interop", target: backend.url, descriptors, services: [INTEROP_SERVICE] },
          { name: "twin", target: other.url },
        ]);
      const clash = await gateway.reload();
      expect(clash).toMatchObject({ changed: false, tools: 2, error: expect.stringMatching(/echo/) });
      expect(gateway.backends().map((b) => b.name)).toEqual(["interop"]);

      // A setting that needs a restart is named, and the backend change still applies.
      const before = logged.length;
      nextConfig = () =>
        configFor(
          [{ name: "interop", target: backend.url, descriptors, services: [INTEROP_SERVICE], timeout: "5s" }],
          {
            max_body_bytes: 1024,
          },
        );
      expect(await gateway.reload()).toEqual({ changed: true, tools: 2 });
      expect(logged.slice(before)).toContainEqual(
        expect.objectContaining({ level: "warn", settings: ["max_body_bytes"] }),
      );

      // New settings that do not work keep the backend serving with its old ones.
      nextConfig = () =>
        configFor([{ name: "interop", target: backend.url, descriptors: join(dir, "missing.binpb") }]);
      expect(await gateway.reload()).toEqual({
        changed: false,
        tools: 2,
        error: expect.stringContaining("missing.binpb"),
      });

      nextConfig = () => configFor([{ name: "twin", target: other.url }]);
      expect(await gateway.reload()).toEqual({ changed: true, tools: 2 });
      expect(gateway.backends()).toEqual([{ name: "twin", target: other.url, ready: true, tools: 2 }]);
      const result = await client?.callTool({ name: "echo", arguments: { record: { text: "twin" } } });
      expect(result?.isError).toBeFalsy();
    } finally {
      nextConfig = () =>
        configFor([{ name: "interop", target: backend.url, descriptors, services: [INTEROP_SERVICE] }]);
      await gateway.reload();
      await other.close();
    }
  });

  it("tells 2026-07-28 subscriptions/listen streams that asked for tool list changes", async () => {
    writeFileSync(descriptors, imageWithout("Repeat"));
    await gateway.reload();
    const ac = new AbortController();
    const listen = statelessRequest(7, "subscriptions/listen", { notifications: { toolsListChanged: true } });
    const res = await fetch(`${http.url}/mcp`, { method: "POST", ...listen, signal: ac.signal });
    const reader = new SseReader(res);
    try {
      const [ack] = await reader.until((ev) => ev.length >= 1);
      expect(ack?.data.params.notifications).toEqual({ toolsListChanged: true });
      writeFileSync(descriptors, readFileSync(IMAGE_PATH));
      await gateway.reload();
      const events = await reader.until((ev) => ev.length >= 2);
      expect(events[1]?.data).toEqual({
        jsonrpc: "2.0",
        method: "notifications/tools/list_changed",
        params: { _meta: { "io.modelcontextprotocol/subscriptionId": 7 } },
      });
    } finally {
      reader.close();
      ac.abort();
    }
  });
});

describe("the reload timer", () => {
  it("asks reflection again every reload_interval and serves what the backend now offers", async () => {
    const interop = await startGrpcJsBackend();
    const port = Number(new URL(interop.url).port);
    const gateway = await createGateway(
      parseConfig(
        JSON.stringify({
          listen: "127.0.0.1:0",
          reload_interval: "1s",
          backends: [{ name: "live", target: interop.url, descriptors: "reflection" }],
        }),
      ),
    );
    let smack: { close(): Promise<void> } | undefined;
    try {
      expect(gateway.tools.map((t) => t.name)).toEqual(["echo", "repeat"]);
      // Another service is deployed at the same address: nothing tells the gateway but its timer.
      await interop.close();
      smack = await startSmack({ port });
      await expect
        .poll(() => gateway.tools.map((t) => t.name), { timeout: 8_000, interval: 200 })
        .toContain("write_to_channel");
      expect(gateway.tools.map((t) => t.name)).not.toContain("echo");
    } finally {
      await gateway.close();
      await smack?.close();
    }
  });
});
