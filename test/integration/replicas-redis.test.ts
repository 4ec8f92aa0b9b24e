import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROGRESS_STEPS, type ReplicaBackend, startReplicaBackend } from "../support/replicas/backend.js";
import { type Balancer, startBalancer } from "../support/replicas/balancer.js";
import {
  mcpGet,
  mcpPost,
  openSession,
  progressOf,
  responseOf,
  SseReader,
  updatesOf,
} from "../support/replicas/client.js";

/**
 * Three gateway processes sharing sessions through a real Redis, behind a
 * round-robin balancer without affinity: every request of a session-era
 * client lands on another replica, and replicas die (SIGKILL) mid-way.
 */
const REDIS_URL = process.env.REDIS_URL;
const PROCESS = fileURLToPath(new URL("../support/replicas/process.ts", import.meta.url));

interface Replica {
  readonly url: string;
  readonly child: ChildProcess;
}

let backend: ReplicaBackend;
let replicas: Replica[] = [];
let balancer: Balancer;

/** Starts one replica process and waits for the URL it prints. */
async function startReplica(config: string): Promise<Replica> {
  const child = spawn(process.execPath, ["--import", "tsx", PROCESS], {
    env: { ...process.env, MCPENGINE_TEST_CONFIG: config },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("a replica did not start within 20 s")), 20_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`a replica exited with ${code} at start`)));
  });
  return { url, child };
}

const running = (r: Replica) => r.child.exitCode === null && r.child.signalCode === null;

/** Kills a replica the hard way: no drain, no goodbye to Redis. */
async function kill(replica: Replica): Promise<void> {
  const exited = new Promise((resolve) => replica.child.once("exit", resolve));
  replica.child.kill("SIGKILL");
  await exited;
}

describe.skipIf(!REDIS_URL)("replicas on Redis, no affinity, replicas killed (set REDIS_URL to run)", () => {
  beforeAll(async () => {
    backend = await startReplicaBackend();
    const config = JSON.stringify({
      listen: "127.0.0.1:0",
      stateKey: randomBytes(32).toString("base64"),
      store: { redis: REDIS_URL, keyPrefix: `mcpengine-test-${randomBytes(4).toString("hex")}:` },
      sessions: { replicaLease: "1s" },
      backends: [
        { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
      ],
    });
    replicas = await Promise.all([startReplica(config), startReplica(config), startReplica(config)]);
    balancer = await startBalancer(replicas.map((r) => r.url));
  }, 60_000);
  afterAll(async () => {
    await balancer?.close();
    for (const r of replicas) if (running(r)) await kill(r);
    await backend?.close();
  });

  const lb = () => balancer.url;

  it("answers an elicitation asked on one replica through another", async () => {
    const session = await openSession(lb(), lb(), { elicitation: {} });
    const call = {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "test_elicitation", arguments: { message: "who?" } },
    };
    const res = await mcpPost(lb(), call, session);
    const asker = res.headers.get("x-upstream");
    const stream = new SseReader(res);
    const asked = (await stream.until((ev) => ev.some((e) => e.data?.method === "elicitation/create"))).find(
      (e) => e.data?.method === "elicitation/create",
    )?.data;
    expect(asked?.id).toBeDefined();
    const answer = { action: "accept", content: { username: "ada", email: "ada@example.com" } };
    const ack = await mcpPost(lb(), { jsonrpc: "2.0", id: asked.id, result: answer }, session);
    expect(ack.status).toBe(202);
    expect(ack.headers.get("x-upstream")).not.toBe(asker);
    const events = await stream.until((ev) => responseOf(ev, 3) !== undefined);
    stream.close();
    expect(responseOf(events, 3)?.data.result.content[0].text).toContain("ada@example.com");
  });

  it("cancels a call running on one replica from a notifications/cancelled sent to another", async () => {
    const session = await openSession(lb(), lb());
    const before = backend.cancelled;
    const call = {
      jsonrpc: "2.0",
      id: 4,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: 4 } },
    };
    const res = await mcpPost(lb(), call, session);
    const runner = res.headers.get("x-upstream");
    const stream = new SseReader(res);
    await stream.until((ev) => progressOf(ev).length >= 2);
    const note = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 4 } };
    const sent = await mcpPost(lb(), note, session);
    expect(sent.status).toBe(202);
    expect(sent.headers.get("x-upstream")).not.toBe(runner);
    for (let i = 0; i < 150 && backend.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(backend.cancelled).toBe(before + 1);
    const events = await stream.until(() => false, 5_000);
    stream.close();
    expect(stream.ended).toBe(true);
    expect(responseOf(events, 4)).toBeUndefined();
  });

  it("keeps a GET stream's updates when the replica holding it is killed: resumed elsewhere, each once, in order", async () => {
    const session = await openSession(lb(), lb());
    const uri = "test://watched-resource";
    const sub = await mcpPost(
      lb(),
      { jsonrpc: "2.0", id: 5, method: "resources/subscribe", params: { uri } },
      session,
    );
    expect(sub.status).toBe(200);
    const watcher = Number(sub.headers.get("x-upstream"));
    await sub.body?.cancel();
    // The next request lands on the next replica: the GET stream sits there, not with the watch.
    const res = await mcpGet(lb(), session);
    const holder = Number(res.headers.get("x-upstream"));
    expect(holder).not.toBe(watcher);
    const first = new SseReader(res);
    await first.until((ev) => updatesOf(ev).length >= 3);
    await kill(replicas[holder] as Replica);
    await first.until(() => false, 2_000);
    expect(first.ended).toBe(true);
    // Updates go on while no stream is attached; the resumed stream replays them, then follows live.
    await new Promise((r) => setTimeout(r, 300));
    const again = await mcpGet(lb(), session, first.lastId);
    expect(again.status).toBe(200);
    const resumed = new SseReader(again);
    await resumed.until((ev) => updatesOf(ev).length >= 10);
    resumed.close();
    const numbers = updatesOf([...first.events, ...resumed.events]);
    expect(numbers.length).toBeGreaterThanOrEqual(13);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => (numbers[0] as number) + i));
  }, 30_000);

  it("ends a streaming call whose replica was killed with every event produced, then an error to retry it", async () => {
    const alive = replicas.filter(running);
    expect(alive.length).toBeGreaterThanOrEqual(2);
    const session = await openSession(lb(), lb());
    const call = {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: 7 } },
    };
    const res = await mcpPost(lb(), call, session);
    const runner = replicas[Number(res.headers.get("x-upstream"))] as Replica;
    const first = new SseReader(res);
    await first.until((ev) => progressOf(ev).length >= 5);
    await kill(runner);
    await first.until(() => false, 2_000);
    const again = await mcpGet(lb(), session, first.lastId);
    expect(again.status).toBe(200);
    const resumed = new SseReader(again);
    // Never a hang: within the lease and a check or two, the stream ends with an error for the request.
    const events = await resumed.until((ev) => responseOf(ev, 7) !== undefined, 15_000);
    resumed.close();
    expect(resumed.timedOut).toBe(false);
    const progress = progressOf([...first.events, ...events]);
    expect(progress).toEqual(Array.from({ length: progress.length }, (_, i) => i + 1));
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.length).toBeLessThan(PROGRESS_STEPS);
    const error = responseOf(events, 7)?.data.error;
    expect(error).toMatchObject({ code: -32603, data: { retryable: true } });
    expect(error.message).toMatch(/stopped before answering.*Send it again/);
  }, 40_000);
});
