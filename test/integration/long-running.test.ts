import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { DEFAULT_SESSION_LIMITS, eventLogBounds } from "../../src/http/index.js";
import { createSharedState } from "../../src/sessions/index.js";
import { type ExportBackend, MS_PER_ROW, startExportBackend } from "../support/export-backend.js";
import { IMAGE_PATH } from "../support/image.js";
import { STATELESS_META, statelessRequest } from "../support/stateless.js";

/** Tools whose RPC returns a google.longrunning.Operation (AIP-151), called without the tasks extension. */
describe("a long-running operation behind a tool", () => {
  let backend: ExportBackend;
  let gateway: Gateway;
  let http: HttpListener;

  beforeAll(async () => {
    backend = await startExportBackend();
    gateway = await createGateway(
      parseConfig(
        JSON.stringify({
          listen: "127.0.0.1:0",
          backends: [
            {
              name: "exports",
              target: backend.url,
              descriptors: IMAGE_PATH,
              services: ["mcpengine.testing.v1.ExportService"],
              timeout: "2s",
            },
          ],
        }),
      ),
    );
    http = await gateway.listen();
  });
  afterAll(async () => {
    await http?.close();
    await backend?.close();
  });

  const call = async (args: object, signal?: AbortSignal) => {
    const { body, headers } = statelessRequest(1, "tools/call", {
      name: "exp_start_export",
      arguments: args,
    });
    const res = await fetch(`${http.url}/mcp`, {
      method: "POST",
      body,
      headers,
      ...(signal ? { signal } : {}),
    });
    return (await res.json()) as {
      result: { structuredContent?: object; isError?: boolean; content: { text: string }[] };
    };
  };

  it("lists the tool with the operation's response as its output schema", () => {
    const tool = gateway.tools.find((t) => t.name === "exp_start_export");
    expect(tool?.outputSchema).toMatchObject({
      properties: { uri: { type: "string" }, rows: { type: "integer" } },
    });
  });

  it("waits for the operation and answers with its response, as a unary reply would be", async () => {
    const before = backend.gets();
    const { result } = await call({ table: "orders", rows: 10 });
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({ uri: "gs://exports/orders.csv", rows: 10 });
    expect(JSON.parse(result.content[0]?.text ?? "")).toEqual(result.structuredContent);
    // 10 rows take about 200 ms: the gateway polled GetOperation in between.
    expect(backend.gets()).toBeGreaterThan(before);
  });

  it("answers an operation that ends with an error as a tool error naming the status", async () => {
    const { result } = await call({ table: "orders", rows: 2, failWith: "disk full" });
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/INTERNAL.*disk full/);
  });

  it("says the operation runs on when the call's deadline passes first", async () => {
    const { result } = await call({ table: "huge", rows: Math.ceil(4_000 / MS_PER_ROW) });
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(
      /operations\/export-\d+ .*still running after the call's deadline/,
    );
  });

  it("asks the backend to cancel the operation when the caller goes away", async () => {
    const ac = new AbortController();
    const polled = backend.gets();
    const pending = call({ table: "abandoned", rows: 1_000 }, ac.signal).catch(() => undefined);
    // Once the gateway polls, the operation exists.
    await expect.poll(() => backend.gets(), { timeout: 5_000 }).toBeGreaterThan(polled);
    const cancelledBefore = backend.cancelled.length;
    ac.abort();
    await pending;
    await expect.poll(() => backend.cancelled.length, { timeout: 5_000 }).toBe(cancelledBefore + 1);
    expect(backend.cancelled.at(-1)).toMatch(/^operations\/export-\d+$/);
  });
});

describe("a long-running operation run as an MCP task", () => {
  it("is polled through GetOperation from another replica once the one that started it stops", async () => {
    const backend = await startExportBackend();
    const state = await createSharedState({ bounds: eventLogBounds(DEFAULT_SESSION_LIMITS) });
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        sessions: { replica_lease: "1s" },
        tasks: { sync_window: "0s", poll_interval: "0.1s" },
        backends: [
          {
            name: "exports",
            target: backend.url,
            descriptors: IMAGE_PATH,
            services: ["mcpengine.testing.v1.ExportService"],
          },
        ],
      }),
    );
    const a = await createGateway(config, { state });
    const b = await createGateway(config, { state });
    const [httpA, httpB] = [await a.listen(), await b.listen()];
    const tasks = {
      "io.modelcontextprotocol/clientCapabilities": { extensions: { "io.modelcontextprotocol/tasks": {} } },
    };
    const post = async (url: string, method: string, params: Record<string, unknown>) => {
      const { body, headers } = statelessRequest(1, method, params);
      const withTasks = JSON.parse(body);
      withTasks.params._meta = { ...STATELESS_META, ...tasks };
      const res = await fetch(`${url}/mcp`, {
        method: "POST",
        body: JSON.stringify(withTasks),
        headers: { ...headers, ...("taskId" in params ? { "mcp-name": String(params.taskId) } : {}) },
      });
      return ((await res.json()) as { result: { [k: string]: unknown } }).result;
    };
    try {
      const created = await post(httpA.url, "tools/call", {
        name: "exp_start_export",
        arguments: { table: "orders", rows: 100 },
      });
      expect(created).toMatchObject({ resultType: "task", status: "working" });
      const taskId = created.taskId as string;
      await expect.poll(() => backend.gets(), { timeout: 5_000 }).toBeGreaterThan(0);
      // The replica running the task stops; the operation runs on at the backend, not cancelled.
      await httpA.close();
      expect(backend.cancelled).toEqual([]);
      const getsBefore = backend.gets();
      await expect
        .poll(async () => (await post(httpB.url, "tasks/get", { taskId })).status, {
          timeout: 10_000,
          interval: 200,
        })
        .toBe("completed");
      const done = await post(httpB.url, "tasks/get", { taskId });
      expect(done.result).toEqual({
        content: [{ type: "text", text: JSON.stringify({ uri: "gs://exports/orders.csv", rows: 100 }) }],
        structuredContent: { uri: "gs://exports/orders.csv", rows: 100 },
      });
      // Replica b asked the backend itself.
      expect(backend.gets()).toBeGreaterThan(getsBefore);
    } finally {
      await httpA.close().catch(() => undefined);
      await httpB.close();
      await state.close();
      await backend.close();
    }
  });
});
