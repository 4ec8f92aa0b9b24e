import { createServer } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { createLogger } from "../../src/observe/index.js";
import { type InteropBackend, startGrpcJsBackend } from "../support/interop/node-backends.js";

/** A loopback port that nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("a backend that is down when the gateway starts", () => {
  let backend: InteropBackend | undefined;
  let gateway: Gateway | undefined;
  let http: HttpListener | undefined;
  let client: Client | undefined;
  afterAll(async () => {
    await client?.close();
    await http?.close();
    await backend?.close();
  });

  it("does not stop the gateway, and its tools reach connected sessions once it is up", async () => {
    const port = await freePort();
    const logged: { msg: string; backend?: string; retryIn?: string; tools?: number }[] = [];
    const logger = createLogger({ sink: { write: (line) => logged.push(JSON.parse(line)) } });
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "late", target: `http://127.0.0.1:${port}`, descriptors: "reflection" }],
      }),
    );
    gateway = await createGateway(config, { logger, retryMs: 100 });
    http = await gateway.listen();
    expect(gateway.backends()).toEqual([
      {
        name: "late",
        target: `http://127.0.0.1:${port}`,
        tools: 0,
        ready: false,
        error: expect.stringContaining("late"),
      },
    ]);
    expect(logged[0]).toMatchObject({
      msg: 'backend "late" is not ready; retrying in 100ms',
      backend: "late",
      retryIn: "100ms",
      error: expect.stringContaining("late"),
    });

    client = new Client({ name: "late-test", version: "1.0.0" });
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
    expect(client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    expect((await client.listTools()).tools).toEqual([]);

    backend = await startGrpcJsBackend(port);
    await expect.poll(() => changed, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(gateway.backends()).toEqual([
      { name: "late", target: `http://127.0.0.1:${port}`, tools: 2, ready: true },
    ]);
    expect(logged.filter((l) => l.msg === 'backend "late" is ready')).toEqual([
      expect.objectContaining({ backend: "late", tools: 2 }),
    ]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["echo", "repeat"]);
    const result = await client.callTool({ name: "echo", arguments: { record: { text: "late" } } });
    expect(result.structuredContent).toEqual({ record: expect.objectContaining({ text: "late", tags: [] }) });
  });

  it("is a start-up error when its descriptor file is missing", async () => {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "filed", target: "http://127.0.0.1:1", descriptors: "/nonexistent/image.binpb" }],
      }),
    );
    await expect(createGateway(config)).rejects.toThrow(
      /^backend "filed": cannot read descriptor set \/nonexistent\/image\.binpb/,
    );
  });
});
