import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ReplicaBackend, startReplicaBackend } from "../support/replicas/backend.js";
import {
  mcpGet,
  mcpPost,
  openSession,
  progressOf,
  responseOf,
  SseReader,
} from "../support/replicas/client.js";
import { responseText } from "../support/response-text.js";

/**
 * `mcpengine serve` as its own process, stopped with signals the way an
 * orchestrator stops it: SIGTERM, a drain, exit code 0.
 */
const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  /** Resolves with the exit code (or signal) and when it came. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

let backend: ReplicaBackend;
const children: ChildProcess[] = [];

beforeAll(async () => {
  backend = await startReplicaBackend();
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(async () => {
  await backend?.close();
});

/** Starts `mcpengine serve` with `extra` YAML settings, and waits for the URL it prints. */
async function serve(extra = ""): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-shutdown-"));
  const config = join(dir, "mcpengine.yaml");
  writeFileSync(
    config,
    `listen: "127.0.0.1:0"\n${extra}backends:\n  - name: everything\n` +
      `    target: "http://127.0.0.1:${backend.port}"\n    descriptors: reflection\n`,
  );
  const child = spawn(process.execPath, [BIN, "serve", "--config", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 20 s: ${stderr}`)), 20_000);
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /MCP endpoint (\S+)\/mcp/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(({ code }) => reject(new Error(`serve exited with ${code} at start: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

/** A call of the slow streaming tool (progress every 50 ms for 2 s), read as it comes. */
async function slowCall(url: string, session: string, id: number): Promise<SseReader> {
  const res = await mcpPost(
    url,
    {
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: id } },
    },
    session,
  );
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const reader = new SseReader(res);
  await reader.until((events) => progressOf(events).length > 0);
  return reader;
}

describe("mcpengine serve on SIGTERM", () => {
  it("lets a call under way finish, ends the GET stream with a retry hint, refuses new work and exits 0", async () => {
    const served = await serve("drain_timeout: 10s\n");
    const { url } = served;
    const session = await openSession(url, url);
    const get = await mcpGet(url, session);
    expect(get.status).toBe(200);
    const getText = responseText(get, 8_000);
    const call = await slowCall(url, session, 7);
    // A probe in the middle of its request when the drain begins: it is answered, with 503.
    const { hostname, port } = new URL(url);
    const probe = connect(Number(port), hostname);
    let probed = "";
    probe.on("data", (d: Buffer) => {
      probed += d.toString();
    });
    probe.on("error", () => {});
    await new Promise((r) => probe.once("connect", r));
    probe.write("GET /readyz HTTP/1.1\r\nHost: x\r\n");
    await new Promise((r) => setTimeout(r, 100));

    const signalled = Date.now();
    served.child.kill("SIGTERM");
    const stream = await getText;
    expect(stream.ended).toBe(true);
    expect(stream.text).toMatch(/\n\nretry: 1000\n\n$/);
    await expect.poll(() => served.stderr()).toMatch(/SIGTERM: draining \(up to 10s\)/);
    probe.write("\r\n");
    await expect.poll(() => probed).toMatch(/^HTTP\/1\.1 503 [\s\S]*"detail":"the gateway is shutting down"/);
    expect(probed).toMatch(/\r\nconnection: close\r\n/i);

    const events = await call.until((e) => responseOf(e, 7) !== undefined, 8_000);
    const answered = Date.now();
    expect(responseOf(events, 7)?.data.result.content[0].text).toBe("done");
    expect(progressOf(events).at(-1)).toBe(40);
    const exit = await served.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at).toBeGreaterThanOrEqual(answered - 50);
    expect(exit.at - signalled).toBeLessThan(8_000);
    // The last line of the drain (log lines flushed by the logger may follow it).
    expect(served.stderr()).toMatch(/^mcpengine: stopped$/m);
  });

  it("cuts off what still runs at drain_timeout, and exits 0", async () => {
    const served = await serve("drain_timeout: 0.3s\n");
    const session = await openSession(served.url, served.url);
    const call = await slowCall(served.url, session, 8);
    const signalled = Date.now();
    served.child.kill("SIGTERM");
    const exit = await served.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalled).toBeGreaterThanOrEqual(250);
    expect(exit.at - signalled).toBeLessThan(3_000);
    const events = await call.until(() => false, 2_000);
    expect(call.ended).toBe(true);
    expect(responseOf(events, 8)?.data.result?.content?.[0]?.text).not.toBe("done");
    expect(served.stderr()).toMatch(/requests still running after drain_timeout \(0\.3s\) are cut off/);
  });

  it("stops at once on a second signal", async () => {
    const served = await serve("drain_timeout: 10s\n");
    const session = await openSession(served.url, served.url);
    const call = await slowCall(served.url, session, 9);
    served.child.kill("SIGTERM");
    await expect.poll(() => served.stderr()).toMatch(/SIGTERM: draining/);
    const again = Date.now();
    served.child.kill("SIGINT");
    const exit = await served.exited;
    expect(exit).toMatchObject({ code: 130, signal: null });
    expect(exit.at - again).toBeLessThan(1_000);
    const events = await call.until(() => false, 2_000);
    expect(responseOf(events, 9)).toBeUndefined();
  });
});
