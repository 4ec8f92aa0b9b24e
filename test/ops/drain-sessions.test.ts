import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { DEFAULT_SESSION_LIMITS, eventLogBounds, type HttpListener } from "../../src/http/index.js";
import { createSharedState } from "../../src/sessions/index.js";
import type { SharedState } from "../../src/sessions/types.js";
import { type ReplicaBackend, startReplicaBackend } from "../support/replicas/backend.js";
import {
  type Loose,
  mcpGet,
  mcpPost,
  openSession,
  progressOf,
  responseOf,
  SseReader,
} from "../support/replicas/client.js";
import { responseText } from "../support/response-text.js";

/**
 * Two replicas sharing one session state (in memory, and in Redis when
 * REDIS_URL is set): one drains and stops while a client's session has a GET
 * stream and a call on it; the client goes on with the other replica, as it
 * would behind a balancer.
 */
const REDIS_URL = process.env.REDIS_URL;

describe.each([
  { kind: "memory", url: undefined },
  { kind: "redis", url: REDIS_URL },
])("a replica that drains, sessions in $kind", ({ kind, url }) => {
  const skip = kind === "redis" && !url;
  let backend: ReplicaBackend;
  let state: SharedState;
  let stopping: HttpListener;
  let staying: HttpListener;

  async function replica(): Promise<HttpListener> {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [
          { name: "everything", target: `http://127.0.0.1:${backend.port}`, descriptors: "reflection" },
        ],
      }),
    );
    return (await createGateway(config, { state })).listen();
  }

  beforeAll(async () => {
    if (skip) return;
    backend = await startReplicaBackend();
    state = await createSharedState({
      ...(url ? { redis: { url } } : {}),
      keyPrefix: `mcpengine-drain-${randomBytes(4).toString("hex")}:`,
      bounds: eventLogBounds(DEFAULT_SESSION_LIMITS),
    });
    stopping = await replica();
    staying = await replica();
  });
  afterAll(async () => {
    if (skip) return;
    await stopping?.close();
    await staying?.close();
    await state?.close();
    await backend?.close();
  });

  it.skipIf(skip)(
    "ends the GET stream with a retry hint, finishes the call, and leaves the session to the others (Redis: set REDIS_URL)",
    async () => {
      const session = await openSession(stopping.url, stopping.url);
      const get = await mcpGet(stopping.url, session);
      expect(get.status).toBe(200);
      const stream = responseText(get, 5_000);
      const res = await mcpPost(
        stopping.url,
        {
          jsonrpc: "2.0",
          id: 5,
          method: "tools/call",
          params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: 5 } },
        },
        session,
      );
      const call = new SseReader(res);
      await call.until((events) => progressOf(events).length > 0);

      const drained = stopping.drain(10_000);
      expect(stopping.draining).toBe(true);
      // Primed with an id (2025-11-25), ended with a retry hint: the client comes back with Last-Event-ID.
      const { text, ended } = await stream;
      expect(ended).toBe(true);
      expect(text).toMatch(/^id: g_0\nretry: 1000\ndata: \n\n[\s\S]*retry: 1000\n\n$/);
      // Meanwhile the other replica serves the session.
      const listed = await mcpPost(staying.url, { jsonrpc: "2.0", id: 6, method: "tools/list" }, session);
      expect(listed.status).toBe(200);
      expect(((await listed.json()) as Loose).result.tools.length).toBeGreaterThan(0);

      const events = await call.until((e) => responseOf(e, 5) !== undefined);
      expect(responseOf(events, 5)?.data.result.content[0].text).toBe("done");
      expect(await drained).toBe(true);
      await stopping.close();

      // The session outlived the replica: its GET stream resumes elsewhere, the session answers.
      const again = await mcpGet(staying.url, session, "g_0");
      expect(again.status).toBe(200);
      await again.body?.cancel();
      const after = await mcpPost(staying.url, { jsonrpc: "2.0", id: 7, method: "ping" }, session);
      expect(after.status).toBe(200);
    },
  );
});
