import { randomBytes } from "node:crypto";
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEverythingService } from "../../examples/conformance/service.js";
import { addReflection } from "../../examples/shared/reflection.js";
import {
  EverythingServiceService,
  type SlowComputeRequest,
} from "../../gen/grpc-js/conformance/v1/everything.js";
import type { ToolResult } from "../../gen/grpc-js/mcpengine/v1/mcp.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { CLIENT, GATEWAY_CLIENT, type Idp, startIdp } from "../support/idp.js";

/**
 * MCP tasks end to end (extension io.modelcontextprotocol/tasks): real
 * gateways over HTTP in front of a grpc-js backend (the conformance fixture,
 * whose slow_compute counts the cancellations it sees), 2026-07-28 requests
 * made with fetch. One gateway in memory, one with auth (a real OpenID
 * provider), and two replicas sharing Redis.
 */
const TASKS = "io.modelcontextprotocol/tasks";
const REDIS_URL = process.env.REDIS_URL;
const AUDIENCE = "http://mcp.test/mcp";

interface Backend {
  readonly port: number;
  /** slow_compute calls the gateway cancelled, by label. */
  readonly cancelled: Set<string>;
  /** slow_compute calls started, by label: the metadata they carried. */
  readonly started: Map<string, Metadata>;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const cancelled = new Set<string>();
  const started = new Map<string, Metadata>();
  const server = new Server();
  server.addService(EverythingServiceService, {
    ...createEverythingService(),
    slowCompute(call: ServerUnaryCall<SlowComputeRequest, ToolResult>, callback: sendUnaryData<ToolResult>) {
      const { seconds, label } = call.request;
      started.set(label, call.metadata);
      const timer = setTimeout(
        () => callback(null, { content: [{ text: { text: `Computed ${label}` } }], isError: false } as never),
        seconds * 1000,
      );
      call.once("cancelled", () => {
        clearTimeout(timer);
        cancelled.add(label);
      });
    },
  });
  addReflection(server, ["conformance.v1.EverythingService"]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    cancelled,
    started,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}

async function startGateway(
  backend: Backend,
  extra: object = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      tasks: { syncWindow: "0.2s", pollInterval: "0.2s" },
      backends: [
        { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
      ],
      ...extra,
    }),
  );
  const listener: HttpListener = await (await createGateway(config)).listen();
  return { url: `${listener.url}/mcp`, close: () => listener.close() };
}

interface Answer {
  readonly status: number;
  readonly result?: { [k: string]: unknown };
  readonly error?: { code: number; message: string; data?: unknown };
}

interface CallOptions {
  readonly token?: string;
  /** Declare the tasks extension (default true). */
  readonly ext?: boolean;
  readonly capabilities?: { [k: string]: unknown };
}

let ids = 0;

/** One 2026-07-28 request with the headers that mirror it (Mcp-Method, Mcp-Name). */
async function rpc(
  url: string,
  method: string,
  params: { [k: string]: unknown },
  opts: CallOptions = {},
): Promise<Answer> {
  const capabilities = {
    ...opts.capabilities,
    ...(opts.ext === false ? {} : { extensions: { [TASKS]: {} } }),
  };
  const name =
    method === "tools/call" ? params.name : method.startsWith("tasks/") ? params.taskId : undefined;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: ++ids,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
      },
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  // An SSE answer (notifications first) ends with the response.
  const json = res.headers.get("content-type")?.includes("text/event-stream")
    ? (text
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => JSON.parse(l.slice(5)) as { id?: unknown })
        .find((m) => m.id !== undefined) ?? {})
    : (JSON.parse(text) as object);
  return { status: res.status, ...(json as { result?: { [k: string]: unknown } }) };
}

async function createTask(url: string, name: string, args: object, opts: CallOptions = {}): Promise<string> {
  const created = await rpc(url, "tools/call", { name, arguments: args }, opts);
  expect(created.result?.resultType, JSON.stringify(created)).toBe("task");
  return String(created.result?.taskId);
}

/** Polls tasks/get on `url` until `done` holds; fails after 10 s. */
async function pollUntil(
  url: string,
  taskId: string,
  done: (task: { [k: string]: unknown }) => boolean,
  opts: CallOptions = {},
): Promise<{ [k: string]: unknown }> {
  const end = Date.now() + 10_000;
  for (;;) {
    const got = await rpc(url, "tasks/get", { taskId }, opts);
    if (got.result && done(got.result)) return got.result;
    if (Date.now() > end) throw new Error(`task ${taskId} never got there: ${JSON.stringify(got)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const terminal = (t: { [k: string]: unknown }) =>
  ["completed", "failed", "cancelled"].includes(String(t.status));
const inputRequired = (t: { [k: string]: unknown }) => t.status === "input_required";

let backend: Backend;

beforeAll(async () => {
  backend = await startBackend();
});
afterAll(async () => {
  await backend?.close();
});

describe("tasks through one gateway (in memory)", () => {
  let gateway: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    gateway = await startGateway(backend);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("creates a task, shows it working, and completes it with the tool's result", async () => {
    const taskId = await createTask(gateway.url, "slow_compute", { seconds: 1, label: "poll" });
    const working = await rpc(gateway.url, "tasks/get", { taskId });
    expect(working.result).toMatchObject({ resultType: "complete", taskId, status: "working" });
    const done = await pollUntil(gateway.url, taskId, terminal);
    expect(done).toMatchObject({
      status: "completed",
      result: { content: [{ type: "text", text: "Computed poll" }] },
    });
    // The task's call is the caller's call: the request id travels with it.
    expect(backend.started.get("poll")?.get("mcpengine-request-id")).toHaveLength(1);
  });

  it("fails a task with the JSON-RPC error of the call: the backend needs roots the client cannot give", async () => {
    const taskId = await createTask(
      gateway.url,
      "protocol_error_job",
      {},
      { capabilities: { elicitation: {} } },
    );
    const done = await pollUntil(gateway.url, taskId, terminal);
    expect(done).toMatchObject({ status: "failed", error: { code: -32021 } });
    expect(done).not.toHaveProperty("result");
  });

  it("completes a failing job as a tool error (isError)", async () => {
    const taskId = await createTask(gateway.url, "failing_job", {});
    const done = await pollUntil(gateway.url, taskId, terminal);
    expect(done).toMatchObject({ status: "completed", result: { isError: true } });
  });

  it("cancels: the ack is empty, the backend sees its call cancelled, the task ends cancelled", async () => {
    const taskId = await createTask(gateway.url, "slow_compute", { seconds: 60, label: "cancel-me" });
    await expect.poll(() => backend.started.has("cancel-me")).toBe(true);
    const ack = await rpc(gateway.url, "tasks/cancel", { taskId });
    expect(ack.result).toEqual({ resultType: "complete" });
    await expect.poll(() => backend.cancelled.has("cancel-me"), { timeout: 5_000 }).toBe(true);
    expect((await pollUntil(gateway.url, taskId, terminal)).status).toBe("cancelled");
  });

  it("asks for input while it runs, and resumes with the answer given by tasks/update", async () => {
    const taskId = await createTask(
      gateway.url,
      "confirm_delete",
      { filename: "notes.txt" },
      { capabilities: { elicitation: {} } },
    );
    const waiting = await pollUntil(gateway.url, taskId, inputRequired);
    expect(waiting.inputRequests).toMatchObject({
      confirm: { method: "elicitation/create", params: { message: "Delete notes.txt?" } },
    });
    const ack = await rpc(gateway.url, "tasks/update", {
      taskId,
      inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
    });
    expect(ack.result).toEqual({ resultType: "complete" });
    const done = await pollUntil(gateway.url, taskId, terminal);
    expect(done).toMatchObject({ status: "completed", result: { content: [{ text: "Deleted notes.txt" }] } });
  });

  it("checks Mcp-Name against the taskId (HTTP 400, -32020)", async () => {
    const taskId = await createTask(gateway.url, "slow_compute", { seconds: 60, label: "named" });
    const res = await fetch(gateway.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tasks/get",
        "mcp-name": "another-task",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tasks/get",
        params: {
          taskId,
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS]: {} } },
          },
        },
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32020);
    await rpc(gateway.url, "tasks/cancel", { taskId });
  });
});

describe("tasks with auth: bound to the token's subject", () => {
  let idp: Idp;
  let gateway: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    idp = await startIdp();
    gateway = await startGateway(backend, {
      auth: { issuer: idp.issuer, audience: AUDIENCE },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await idp?.close();
  });

  it("answers another subject's get, update and cancel exactly as for an unknown task, and keeps it running", async () => {
    const owner = await idp.token(AUDIENCE, "smack.read", CLIENT);
    const other = await idp.token(AUDIENCE, "smack.read", GATEWAY_CLIENT);
    const taskId = await createTask(
      gateway.url,
      "slow_compute",
      { seconds: 60, label: "owned" },
      { token: owner },
    );
    for (const [method, extra] of [
      ["tasks/get", {}],
      ["tasks/update", { inputResponses: {} }],
      ["tasks/cancel", {}],
    ] as const) {
      const theirs = await rpc(gateway.url, method, { taskId, ...extra }, { token: other });
      const unknown = await rpc(
        gateway.url,
        method,
        { taskId: randomBytes(16).toString("base64url"), ...extra },
        { token: other },
      );
      expect(theirs.error).toEqual({ code: -32602, message: "Failed to retrieve task: Task not found" });
      expect({ status: theirs.status, error: theirs.error }).toEqual({
        status: unknown.status,
        error: unknown.error,
      });
    }
    expect((await rpc(gateway.url, "tasks/get", { taskId }, { token: owner })).result?.status).toBe(
      "working",
    );
    expect(backend.cancelled.has("owned")).toBe(false);
    await rpc(gateway.url, "tasks/cancel", { taskId }, { token: owner });
    await expect.poll(() => backend.cancelled.has("owned"), { timeout: 5_000 }).toBe(true);
  });
});

describe.skipIf(!REDIS_URL)("tasks across two replicas sharing Redis (set REDIS_URL to run)", () => {
  let a: { url: string; close(): Promise<void> };
  let b: { url: string; close(): Promise<void> };
  const keyPrefix = `mcpengine-test-tasks-${randomBytes(4).toString("hex")}:`;
  beforeAll(async () => {
    const shared = { stateKey: randomBytes(32).toString("base64"), store: { redis: REDIS_URL, keyPrefix } };
    a = await startGateway(backend, shared);
    b = await startGateway(backend, shared);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const redis = new Redis(REDIS_URL ?? "");
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("polls through one replica a task created through the other, to its result", async () => {
    const taskId = await createTask(a.url, "slow_compute", { seconds: 1, label: "across" });
    const seen = await rpc(b.url, "tasks/get", { taskId });
    expect(seen.result).toMatchObject({ taskId, status: "working" });
    const done = await pollUntil(b.url, taskId, terminal);
    expect(done).toMatchObject({ status: "completed", result: { content: [{ text: "Computed across" }] } });
  });

  it("cancels through the other replica: the replica running the call aborts it", async () => {
    const taskId = await createTask(a.url, "slow_compute", { seconds: 60, label: "cancel-across" });
    await expect.poll(() => backend.started.has("cancel-across")).toBe(true);
    expect((await rpc(b.url, "tasks/cancel", { taskId })).result).toEqual({ resultType: "complete" });
    await expect.poll(() => backend.cancelled.has("cancel-across"), { timeout: 5_000 }).toBe(true);
    expect((await pollUntil(a.url, taskId, terminal)).status).toBe("cancelled");
  });

  it("takes the answer on the other replica and resumes the call where it runs", async () => {
    const taskId = await createTask(
      a.url,
      "confirm_delete",
      { filename: "across.txt" },
      { capabilities: { elicitation: {} } },
    );
    await pollUntil(b.url, taskId, inputRequired);
    await rpc(b.url, "tasks/update", {
      taskId,
      inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
    });
    const done = await pollUntil(b.url, taskId, terminal);
    expect(done).toMatchObject({
      status: "completed",
      result: { content: [{ text: "Deleted across.txt" }] },
    });
  });
});
