import { create, fromBinary, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createRouterTransport,
  decodeBinaryHeader,
  type HandlerContext,
} from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EverythingService } from "../../gen/es/conformance/v1/everything_pb.js";
import {
  type InputRequestSchema,
  InputRequiredSchema,
  InputResponsesSchema,
  type ToolEventSchema,
  type ToolResultSchema,
} from "../../gen/es/mcpengine/v1/mcp_pb.js";
import type { Identity } from "../../src/auth/index.js";
import { buildSurface, buildTools } from "../../src/catalog/index.js";
import { type BackendHandle, createArgumentValidator } from "../../src/invoke/index.js";
import { createMcpServer, type Exchange, type McpServer } from "../../src/mcp/index.js";
import type { TaskOptions } from "../../src/mcp/tasks/index.js";
import { MemoryReplicaRegistry, MemorySessionBus } from "../../src/sessions/memory-bus.js";
import { MemoryTaskStore } from "../../src/sessions/memory-tasks.js";
import { exchangeOf } from "../support/exchange.js";
import { imageRegistry, imageService } from "../support/image.js";

const TASKS = "io.modelcontextprotocol/tasks";
const everything = [{ backend: "e", services: [imageService("conformance.v1.EverythingService")] }];

type Impl = Parameters<typeof createRouterTransport>[0];
type Handlers = Partial<{
  [M in
    | "slowCompute"
    | "failingJob"
    | "protocolErrorJob"
    | "confirmDelete"
    | "multiInput"
    | "taskWithInput"
    | "greet"]: (req: never, ctx: HandlerContext) => Promise<unknown>;
}> & {
  toolWithProgress?: (req: never, ctx: HandlerContext) => AsyncIterable<ToolEventInit>;
};

type ToolResultInit = MessageInitShape<typeof ToolResultSchema>;
type InputRequestInit = MessageInitShape<typeof InputRequestSchema>;
type ToolEventInit = MessageInitShape<typeof ToolEventSchema>;

const text = (t: string): ToolResultInit => ({
  content: [{ kind: { case: "text", value: { text: t } } }],
});

/** Waits `ms`, or rejects as soon as the gateway cancels the call. */
function work(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new ConnectError("cancelled", Code.Canceled));
    });
  });
}

/** The answers the gateway sent with this call. */
function answers(ctx: HandlerContext): { [key: string]: JsonObject } {
  const raw = ctx.requestHeader.get("mcpengine-input-bin");
  return raw ? fromBinary(InputResponsesSchema, decodeBinaryHeader(raw)).responses : {};
}

function needInput(requests: { [key: string]: InputRequestInit }): ConnectError {
  return new ConnectError("input required", Code.FailedPrecondition, undefined, [
    { desc: InputRequiredSchema, value: create(InputRequiredSchema, { requests }) },
  ]);
}

const ask = (message: string): InputRequestInit => ({
  method: "elicitation/create",
  params: { message, requestedSchema: { type: "object", properties: {} } },
});

/** What the fixture's backend saw. */
interface Seen {
  cancelled: number;
  calls: { [method: string]: number };
}

/**
 * The conformance fixture's task tools on an in-memory Connect backend, fast:
 * work takes 400 ms, a "second" 100 ms, against a sync window of 150 ms; an
 * immediate answer comes well within the window even on a loaded machine.
 */
function backendOf(seen: Seen, overrides: Handlers): BackendHandle {
  const count = (name: string) => {
    seen.calls[name] = (seen.calls[name] ?? 0) + 1;
  };
  const slow = async (ms: number, ctx: HandlerContext) => {
    try {
      await work(ms, ctx.signal);
    } catch (err) {
      seen.cancelled++;
      throw err;
    }
  };
  const handlers = {
    async greet(req: { name: string }) {
      count("greet");
      return text(`Hello, ${req.name}!`);
    },
    async slowCompute(req: { seconds: number; label: string }, ctx: HandlerContext) {
      count("slowCompute");
      // A fast clock: a "second" of the fixture is 100 ms here.
      await slow(req.seconds * 100, ctx);
      return text(`Computed ${req.label}`);
    },
    async failingJob(_req: unknown, ctx: HandlerContext) {
      await slow(400, ctx);
      throw new ConnectError("the job failed", Code.Aborted);
    },
    async protocolErrorJob(_req: unknown, ctx: HandlerContext) {
      await slow(400, ctx);
      throw needInput({ roots: { method: "roots/list", params: {} } });
    },
    async confirmDelete(req: { filename: string }, ctx: HandlerContext) {
      count("confirmDelete");
      const confirm = answers(ctx).confirm;
      if (!confirm) {
        await slow(400, ctx);
        throw needInput({ confirm: ask(`Delete ${req.filename}?`) });
      }
      return text(`Deleted ${req.filename}: ${JSON.stringify(confirm)}`);
    },
    async multiInput(_req: unknown, ctx: HandlerContext) {
      const got = answers(ctx);
      if (got.name && got.confirm)
        return text(`name=${JSON.stringify(got.name)} confirm=${JSON.stringify(got.confirm)}`);
      await slow(400, ctx);
      throw needInput({ name: ask("Name?"), confirm: ask("Go on?") });
    },
    async taskWithInput(_req: unknown, ctx: HandlerContext) {
      const name = answers(ctx).user_name;
      if (!name) throw needInput({ user_name: ask("What is your name?") });
      await slow(400, ctx);
      return text(`Hello, ${JSON.stringify(name)}!`);
    },
    ...overrides,
  };
  const routes: Impl = ({ service }) => {
    service(EverythingService, handlers as never);
  };
  const registry = imageRegistry();
  return {
    name: "e",
    transport: createRouterTransport(routes),
    registry,
    timeoutMs: 60_000,
    validator: createArgumentValidator(registry),
  };
}

interface Rig {
  readonly core: McpServer;
  readonly seen: Seen;
  /** A 2026-07-28 request; with the tasks extension unless `ext` is false. */
  call(method: string, params?: JsonObject, opts?: ExOptions): Promise<Answer>;
}

interface ExOptions {
  readonly ext?: boolean;
  readonly capabilities?: JsonObject;
  readonly identity?: Identity;
  readonly notify?: (method: string, params: JsonObject) => void;
  readonly signal?: AbortSignal;
  readonly era?: "session" | "stateless";
}

interface Answer {
  result?: { [k: string]: unknown };
  error?: { code: number; message: string; data?: unknown };
}

const open: McpServer[] = [];
afterEach(() => {
  for (const core of open.splice(0)) core.close();
});

function rig(tasks: TaskOptions = {}, overrides: Handlers = {}): Rig {
  const seen: Seen = { cancelled: 0, calls: {} };
  const core = createMcpServer({
    info: { name: "t", version: "1" },
    tools: buildTools(everything),
    surface: buildSurface(everything),
    backends: new Map([["e", backendOf(seen, overrides)]]),
    tasks: { syncWindowMs: 150, pollIntervalMs: 100, ...tasks },
  });
  open.push(core);
  return {
    core,
    seen,
    async call(method, params = {}, opts = {}) {
      const base = exchangeOf(opts.era ?? "stateless");
      const capabilities: JsonObject = {
        elicitation: {},
        ...opts.capabilities,
        ...(opts.ext === false ? {} : { extensions: { [TASKS]: {} } }),
      };
      const ex = {
        ...base,
        clientCapabilities: capabilities,
        ...(opts.identity ? { identity: opts.identity } : {}),
        ...(opts.notify ? { notify: opts.notify } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      } as Exchange;
      return (await core.handle({ jsonrpc: "2.0", id: 1, method, params }, ex)) as Answer;
    },
  };
}

/** Polls tasks/get until `done` holds (bounded). */
async function pollUntil(
  r: Rig,
  taskId: string,
  done: (task: { [k: string]: unknown }) => boolean,
  opts: ExOptions = {},
): Promise<{ [k: string]: unknown }> {
  const end = Date.now() + 5_000;
  for (;;) {
    const got = await r.call("tasks/get", { taskId }, opts);
    if (got.result && done(got.result)) return got.result;
    if (Date.now() > end) throw new Error(`task ${taskId} never got there: ${JSON.stringify(got)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const terminal = (t: { [k: string]: unknown }) =>
  ["completed", "failed", "cancelled"].includes(String(t.status));

async function createTask(
  r: Rig,
  name: string,
  args: JsonObject = {},
  opts: ExOptions = {},
): Promise<string> {
  const created = await r.call("tools/call", { name, arguments: args }, opts);
  expect(created.result?.resultType, JSON.stringify(created)).toBe("task");
  return String(created.result?.taskId);
}

const identity = (subject: string): Identity => ({ subject, scopes: new Set(), claims: {}, token: "t" });

describe("tools/call as a task (SEP-2663)", () => {
  it("answers a call that finishes within the sync window directly", async () => {
    const r = rig();
    const res = await r.call("tools/call", { name: "slow_compute", arguments: { seconds: 0, label: "now" } });
    expect(res.result).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "Computed now" }],
    });
    expect(res.result).not.toHaveProperty("taskId");
  });

  it("answers a longer call with a flat CreateTaskResult that tasks/get reads at once", async () => {
    const r = rig({ ttlMs: 90_000, pollIntervalMs: 250 });
    const res = await r.call("tools/call", { name: "slow_compute", arguments: { seconds: 5, label: "x" } });
    const created = res.result ?? {};
    expect(Object.keys(created).sort()).toEqual(
      ["createdAt", "lastUpdatedAt", "pollIntervalMs", "resultType", "status", "taskId", "ttlMs"].sort(),
    );
    expect(created).toMatchObject({
      resultType: "task",
      status: "working",
      ttlMs: 90_000,
      pollIntervalMs: 250,
    });
    expect(String(created.taskId)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Date(String(created.createdAt)).toISOString()).toBe(created.createdAt);
    const now = await r.call("tasks/get", { taskId: String(created.taskId) });
    expect(now.result).toMatchObject({ resultType: "complete", taskId: created.taskId, status: "working" });
    expect(now.result).not.toHaveProperty("result");
  });

  it("completes with exactly the result the synchronous call answers", async () => {
    const r = rig();
    const args = { seconds: 4, label: "same" };
    const sync = await r.call("tools/call", { name: "slow_compute", arguments: args }, { ext: false });
    const taskId = await createTask(r, "slow_compute", args);
    const done = await pollUntil(r, taskId, terminal);
    const { resultType: _rt, ...syncResult } = sync.result ?? {};
    expect(done).toMatchObject({ status: "completed", resultType: "complete" });
    expect(done.result).toEqual(syncResult);
    expect(done).not.toHaveProperty("error");
    expect(done).not.toHaveProperty("statusMessage");
  });

  it("completes a backend failure as a tool error (isError), as the synchronous call does", async () => {
    const r = rig();
    const taskId = await createTask(r, "failing_job");
    const done = await pollUntil(r, taskId, terminal);
    expect(done).toMatchObject({ status: "completed", result: { isError: true } });
    expect(JSON.stringify(done.result)).toContain("the job failed");
  });

  it("fails a task with the JSON-RPC error the call raised: input the client cannot give", async () => {
    const r = rig();
    const taskId = await createTask(r, "protocol_error_job");
    const done = await pollUntil(r, taskId, terminal);
    expect(done).toMatchObject({
      status: "failed",
      error: { code: -32021, data: { requiredCapabilities: { roots: {} } } },
    });
    expect(done.statusMessage).toEqual((done.error as { message: string }).message);
    expect(done).not.toHaveProperty("result");
  });

  it("refuses a call past maxRunning with a tool error, and takes calls again once one ended", async () => {
    const r = rig({ maxRunning: 1 });
    const first = await createTask(r, "slow_compute", { seconds: 600, label: "long" });
    const refused = await r.call("tools/call", {
      name: "slow_compute",
      arguments: { seconds: 0, label: "b" },
    });
    expect(refused.result).toMatchObject({ isError: true });
    expect(JSON.stringify(refused.result)).toMatch(/running 1 tasks, its limit/);
    expect(r.seen.calls.slowCompute).toBe(1);
    await r.call("tasks/cancel", { taskId: first });
    await pollUntil(r, first, terminal);
    await expect
      .poll(
        async () =>
          (await r.call("tools/call", { name: "slow_compute", arguments: { seconds: 0, label: "c" } })).result
            ?.isError,
      )
      .toBeUndefined();
  });

  it("shows progress of a server-streaming tool as the statusMessage of its working task", async () => {
    const r = rig(
      {},
      {
        async *toolWithProgress(_req: never, ctx: HandlerContext) {
          for (let step = 1; step <= 6; step++) {
            yield {
              event: { case: "progress", value: { progress: step, total: 6, message: `step ${step}` } },
            };
            await work(80, ctx.signal);
          }
          yield { event: { case: "result", value: text("all steps done") } };
        },
      },
    );
    const taskId = await createTask(r, "test_tool_with_progress");
    const working = await pollUntil(r, taskId, (t) => /^step [2-6]$/.test(String(t.statusMessage)));
    expect(working.status).toBe("working");
    const done = await pollUntil(r, taskId, terminal);
    expect(done).toMatchObject({ status: "completed", result: { content: [{ text: "all steps done" }] } });
  });
});

describe("tasks/cancel", () => {
  it("acks with an empty result, aborts the backend call and settles as cancelled, idempotently", async () => {
    const r = rig();
    const taskId = await createTask(r, "slow_compute", { seconds: 600, label: "long" });
    const ack = await r.call("tasks/cancel", { taskId });
    expect(ack.result).toEqual({ resultType: "complete" });
    const done = await pollUntil(r, taskId, terminal);
    expect(done.status).toBe("cancelled");
    await expect.poll(() => r.seen.cancelled).toBe(1);
    expect((await r.call("tasks/cancel", { taskId })).result).toEqual({ resultType: "complete" });
    expect((await pollUntil(r, taskId, terminal)).status).toBe("cancelled");
  });

  it("acks a cancel of a task that already completed, and leaves it completed", async () => {
    const r = rig();
    const taskId = await createTask(r, "slow_compute", { seconds: 4, label: "quick" });
    await pollUntil(r, taskId, terminal);
    expect((await r.call("tasks/cancel", { taskId })).result).toEqual({ resultType: "complete" });
    expect((await r.call("tasks/get", { taskId })).result?.status).toBe("completed");
  });
});

describe("input during a task (tasks/update)", () => {
  it("asks through inputRequests, keeps unanswered keys, and resumes once every key is answered", async () => {
    const r = rig();
    const taskId = await createTask(r, "multi_input");
    const waiting = await pollUntil(r, taskId, (t) => t.status === "input_required");
    expect(Object.keys(waiting.inputRequests as object).sort()).toEqual(["confirm", "name"]);
    expect(waiting.inputRequests).toMatchObject({
      name: { method: "elicitation/create", params: { message: "Name?" } },
    });
    const ignored = await r.call("tasks/update", { taskId, inputResponses: { bogus: { action: "accept" } } });
    expect(ignored.result).toEqual({ resultType: "complete" });
    await r.call("tasks/update", {
      taskId,
      inputResponses: { name: { action: "accept", content: { name: "Ada" } } },
    });
    const partial = await r.call("tasks/get", { taskId });
    expect(partial.result).toMatchObject({ status: "input_required" });
    expect(Object.keys(partial.result?.inputRequests as object)).toEqual(["confirm"]);
    await r.call("tasks/update", {
      taskId,
      inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
    });
    const done = await pollUntil(r, taskId, terminal);
    expect(done).toMatchObject({ status: "completed" });
    const answered = JSON.stringify(done.result);
    expect(answered).toContain("Ada");
    expect(answered).toContain("confirm");
  });

  it("never reuses a key over the task's life when the backend asks under the same key again", async () => {
    let round = 0;
    const r = rig(
      {},
      {
        async confirmDelete(_req: never, ctx: HandlerContext) {
          const got = answers(ctx);
          round++;
          if (round <= 2) {
            if (round === 1) await work(400, ctx.signal);
            throw needInput({ confirm: ask(`round ${round}`) });
          }
          return text(`answers ${JSON.stringify(got)}`);
        },
      },
    );
    const taskId = await createTask(r, "confirm_delete", { filename: "a.txt" });
    const first = await pollUntil(r, taskId, (t) => t.status === "input_required");
    expect(Object.keys(first.inputRequests as object)).toEqual(["confirm"]);
    await r.call("tasks/update", {
      taskId,
      inputResponses: { confirm: { action: "accept", content: { n: 1 } } },
    });
    const second = await pollUntil(
      r,
      taskId,
      (t) => t.status === "input_required" && !("confirm" in (t.inputRequests as object)),
    );
    expect(Object.keys(second.inputRequests as object)).toEqual(["confirm~2"]);
    // The stale key is not outstanding any more: ignored.
    await r.call("tasks/update", { taskId, inputResponses: { confirm: { action: "decline" } } });
    expect((await r.call("tasks/get", { taskId })).result?.status).toBe("input_required");
    await r.call("tasks/update", {
      taskId,
      inputResponses: { "confirm~2": { action: "accept", content: { n: 2 } } },
    });
    const done = await pollUntil(r, taskId, terminal);
    // The backend got the answer under its own key.
    expect(JSON.stringify(done.result)).toContain(
      '\\"confirm\\":{\\"action\\":\\"accept\\",\\"content\\":{\\"n\\":2}}',
    );
  });

  it("resolves input asked for at once synchronously (MRTR), then runs the retry as a task", async () => {
    const r = rig();
    const round1 = await r.call("tools/call", { name: "test_tool_with_task", arguments: {} });
    expect(round1.result).toMatchObject({
      resultType: "input_required",
      inputRequests: { user_name: { method: "elicitation/create" } },
    });
    expect(round1.result).not.toHaveProperty("taskId");
    const round2 = await r.call("tools/call", {
      name: "test_tool_with_task",
      arguments: {},
      inputResponses: { user_name: { action: "accept", content: { name: "Alice" } } },
    });
    expect(round2.result).toMatchObject({ resultType: "task", status: "working" });
    expect(round2.result).not.toHaveProperty("requestState");
    expect(round2.result).not.toHaveProperty("inputRequests");
    const done = await pollUntil(r, String(round2.result?.taskId), terminal);
    expect(JSON.stringify(done.result)).toContain("Alice");
  });

  it("refuses inputResponses that are not a map of objects", async () => {
    const r = rig();
    const taskId = await createTask(r, "slow_compute", { seconds: 600, label: "x" });
    expect((await r.call("tasks/update", { taskId, inputResponses: { a: 1 } })).error?.code).toBe(-32602);
    expect((await r.call("tasks/update", { taskId })).error?.code).toBe(-32602);
  });
});

describe("who may see a task", () => {
  it("answers another caller's task exactly as an unknown one, for get, update and cancel", async () => {
    const r = rig();
    const alice = { identity: identity("alice") };
    const mallory = { identity: identity("mallory") };
    const taskId = await createTask(r, "slow_compute", { seconds: 600, label: "mine" }, alice);
    const unknown = "AAAAAAAAAAAAAAAAAAAAAA";
    for (const [method, extra] of [
      ["tasks/get", {}],
      ["tasks/update", { inputResponses: {} }],
      ["tasks/cancel", {}],
    ] as const) {
      const theirs = await r.call(method, { taskId, ...extra }, mallory);
      const none = await r.call(method, { taskId: unknown, ...extra }, mallory);
      expect(theirs.error).toEqual({ code: -32602, message: "Failed to retrieve task: Task not found" });
      expect(theirs.error).toEqual(none.error);
    }
    expect((await r.call("tasks/get", { taskId }, alice)).result?.status).toBe("working");
    expect((await r.call("tasks/get", { taskId })).error?.code).toBe(-32602);
    expect(r.seen.cancelled).toBe(0);
  });
});

describe("the extension's gate", () => {
  it("refuses tasks/get, tasks/update and tasks/cancel without the extension (-32021, naming it)", async () => {
    const r = rig();
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      const res = await r.call(method, { taskId: "x", inputResponses: {} }, { ext: false });
      expect(res.error).toMatchObject({
        code: -32021,
        data: { requiredCapabilities: { extensions: { [TASKS]: {} } } },
      });
    }
  });

  it("refuses a task-required tool without the extension before calling the backend", async () => {
    const r = rig();
    const res = await r.call("tools/call", { name: "failing_job", arguments: {} }, { ext: false });
    expect(res.error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { [TASKS]: {} } } },
    });
  });

  it("runs an optional tool synchronously without the extension, and a never tool so with it", async () => {
    const r = rig({ syncWindowMs: 0 });
    const plain = await r.call(
      "tools/call",
      { name: "slow_compute", arguments: { seconds: 1, label: "s" } },
      { ext: false },
    );
    expect(plain.result).toMatchObject({ content: [{ text: "Computed s" }] });
    const greet = await r.call("tools/call", { name: "greet", arguments: { name: "Ada" } });
    expect(greet.result).toMatchObject({ resultType: "complete", content: [{ text: "Hello, Ada!" }] });
  });

  it("runs every tool synchronously for a session-era client, which has no tasks", async () => {
    const r = rig({ syncWindowMs: 0 });
    const res = await r.call("tools/call", { name: "failing_job", arguments: {} }, { era: "session" });
    expect(res.result).toMatchObject({ isError: true });
    expect(res.result).not.toHaveProperty("taskId");
    expect((await r.call("tasks/get", { taskId: "x" }, { era: "session" })).error?.code).toBe(-32601);
  });

  it("advertises the extension in server/discover only", async () => {
    const r = rig();
    const discover = await r.call("server/discover");
    expect(discover.result?.capabilities).toMatchObject({ extensions: { [TASKS]: {} } });
    const init = await r.call(
      "initialize",
      { protocolVersion: "2025-11-25", capabilities: {} },
      { era: "session" },
    );
    expect(init.result?.capabilities).not.toHaveProperty("extensions");
  });
});

describe("a task's lifetime", () => {
  it("forgets a task after its TTL and stops its backend call", async () => {
    const r = rig({ ttlMs: 400 });
    const taskId = await createTask(r, "slow_compute", { seconds: 600, label: "forever" });
    await expect
      .poll(async () => (await r.call("tasks/get", { taskId })).error?.code, { timeout: 3_000 })
      .toBe(-32602);
    await expect.poll(() => r.seen.cancelled, { timeout: 3_000 }).toBe(1);
  });

  it("fails a task whose replica died (its lease lapsed) when another replica reads it", async () => {
    const registry = new MemoryReplicaRegistry();
    let dead = false;
    const shared = { store: new MemoryTaskStore(), bus: new MemorySessionBus(), leaseMs: 300 };
    const a = rig({
      ...shared,
      replica: "a",
      replicas: {
        renew: (replica, until) => (dead ? undefined : registry.renew(replica, until)),
        alive: (replica, now) => registry.alive(replica, now),
        retire: (replica) => registry.retire(replica),
      },
    });
    const b = rig({ ...shared, replica: "b", replicas: registry });
    const taskId = await createTask(a, "slow_compute", { seconds: 600, label: "orphan" });
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Alive while it renews.
    expect((await b.call("tasks/get", { taskId })).result?.status).toBe("working");
    dead = true;
    const failed = await pollUntil(b, taskId, terminal);
    expect(failed).toMatchObject({
      status: "failed",
      error: { code: -32603, message: "The gateway replica running this task stopped before it finished" },
    });
  });

  it("fails the tasks running here when the server closes", async () => {
    const r = rig();
    const taskId = await createTask(r, "slow_compute", { seconds: 600, label: "x" });
    r.core.close();
    const done = await pollUntil(r, taskId, terminal);
    expect(done).toMatchObject({ status: "failed", error: { code: -32603 } });
    await expect.poll(() => r.seen.cancelled).toBe(1);
  });
});

describe("notifications/tasks on subscriptions/listen", () => {
  it("acknowledges the caller's own task ids and sends the full task on each change", async () => {
    const r = rig();
    const taskId = await createTask(r, "slow_compute", { seconds: 5, label: "watched" });
    const sent: { method: string; params: JsonObject }[] = [];
    const stop = new AbortController();
    const listening = r.call(
      "subscriptions/listen",
      { notifications: { taskIds: [taskId, "unknown-task"] } },
      { notify: (method, params) => sent.push({ method, params }), signal: stop.signal },
    );
    await expect.poll(() => sent.length).toBeGreaterThan(0);
    expect(sent[0]).toMatchObject({
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: { taskIds: [taskId] } },
    });
    await expect.poll(() => sent.some((n) => n.params.status === "completed"), { timeout: 3_000 }).toBe(true);
    const last = sent.find((n) => n.params.status === "completed");
    const polled = await r.call("tasks/get", { taskId });
    const { resultType: _rt, ...task } = polled.result ?? {};
    expect(last?.method).toBe("notifications/tasks");
    expect(last?.params).toEqual({ ...task, _meta: { "io.modelcontextprotocol/subscriptionId": 1 } });
    stop.abort();
    await listening;
  });

  it("refuses task notifications to a client without the extension (-32021)", async () => {
    const r = rig();
    const res = await r.call("subscriptions/listen", { notifications: { taskIds: ["x"] } }, { ext: false });
    expect(res.error).toMatchObject({ code: -32021 });
  });
});
