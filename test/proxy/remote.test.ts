import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { connectRemote } from "../../src/proxy/remote/detect.js";
import { createLegacySseRemote } from "../../src/proxy/remote/legacy-sse.js";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { createStatelessRemote } from "../../src/proxy/remote/stateless-http.js";
import { NO_AUTH, type Remote, type RemoteEra, type RemoteOptions } from "../../src/proxy/types.js";
import {
  createHost,
  type Host,
  initializeMessage,
  initializeParams,
  type SeenRequest,
  spyFetch,
  until,
} from "./remote-harness.js";

/**
 * Each remote against a real server: the gateway in front of Smack, which
 * serves every era on one listener (sessions and 2026-07-28 at /mcp,
 * 2024-11-05 at /sse).
 */
let smack: RunningSmack;
let http: HttpListener;

beforeAll(async () => {
  smack = await startSmack({ port: 0 });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}`, descriptors: "reflection" }],
    }),
  );
  http = await (await createGateway(config)).listen();
});
afterAll(async () => {
  await http?.close();
  await smack?.close();
});

interface EraCase {
  readonly era: RemoteEra;
  readonly path: string;
  readonly create: (options: RemoteOptions) => Remote;
  readonly initialize: boolean;
}

const eras: EraCase[] = [
  { era: "session", path: "/mcp", create: createSessionRemote, initialize: true },
  { era: "legacy-sse", path: "/sse", create: createLegacySseRemote, initialize: true },
  {
    era: "stateless",
    path: "/mcp",
    create: (o) => createStatelessRemote({ ...o, protocolVersion: "2026-07-28", clientCapabilities: {} }),
    initialize: false,
  },
];

type Result = { result?: { [k: string]: unknown }; error?: { message: string } };

describe.each(eras)("the $era remote against the gateway in front of Smack", (c) => {
  const channel = c.era.replace(/[^a-z]/g, "");
  let host: Host;
  let remote: Remote;
  let seen: SeenRequest[];

  beforeAll(async () => {
    host = createHost();
    const spy = spyFetch();
    seen = spy.seen;
    remote = c.create({
      url: new URL(`${http.url}${c.path}`),
      auth: NO_AUTH,
      onMessage: host.onMessage,
      fetch: spy.fetch,
    });
    if (c.initialize) {
      const version = c.era === "legacy-sse" ? "2024-11-05" : "2025-11-25";
      const init = (await host.request(remote, "initialize", initializeParams(version))) as Result;
      expect(init.result?.protocolVersion).toBe(version);
      await host.notify(remote, "notifications/initialized");
    }
  });
  afterAll(() => remote?.close());

  it("reports its era", () => {
    expect(remote.era).toBe(c.era);
  });

  it("lists Smack's tools", async () => {
    const list = (await host.request(remote, "tools/list")) as Result;
    const tools = list.result?.tools as { name: string }[];
    expect(tools.map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
  });

  it("writes to a channel and reads the message back", async () => {
    const written = (await host.request(remote, "tools/call", {
      name: "write_to_channel",
      arguments: { channel: `${channel}-rw`, text: `hello from ${c.era}` },
    })) as Result;
    expect(written.result?.isError).toBeFalsy();
    const read = (await host.request(remote, "tools/call", {
      name: "read_channel",
      arguments: { channel: `${channel}-rw` },
    })) as Result;
    expect(read.result?.structuredContent).toMatchObject({ messages: [{ text: `hello from ${c.era}` }] });
  });

  it("delivers watch_channel's progress notifications in order, before its result", async () => {
    const token = `watch-${c.era}`;
    const watched = `${channel}-watch`;
    const watching = host.request(remote, "tools/call", {
      name: "watch_channel",
      arguments: { channel: watched, maxMessages: 3 },
      _meta: { progressToken: token },
    });
    await until(() => smack.watchers(watched) > 0);
    for (let i = 0; i < 3; i++) {
      await host.request(remote, "tools/call", {
        name: "write_to_channel",
        arguments: { channel: watched, text: `m${i}` },
      });
    }
    const answer = await watching;
    const result = answer as Result;
    expect(result.result?.structuredContent).toMatchObject({ messages: [{}, {}, {}] });
    const progress = host.messages.filter(
      (m) =>
        m.method === "notifications/progress" &&
        (m.params as { progressToken?: unknown }).progressToken === token,
    );
    expect(progress.map((m) => (m.params as { progress: number }).progress)).toEqual([1, 2, 3]);
    const last = progress.at(-1);
    expect(last && host.messages.indexOf(last)).toBeLessThan(host.messages.indexOf(answer));
  });

  it("cancels the call on the server when the host sends notifications/cancelled", async () => {
    const watched = `${channel}-cancel`;
    const id = host.nextId();
    const watching = host.request(remote, "tools/call", {
      name: "watch_channel",
      arguments: { channel: watched },
    });
    watching.catch(() => {}); // a cancelled request may never be answered
    await until(() => smack.watchers(watched) === 1);
    await host.notify(remote, "notifications/cancelled", { requestId: id, reason: "the user stopped it" });
    await until(() => smack.watchers(watched) === 0);
  });

  it.runIf(c.era === "session")(
    "sends the session id and the negotiated version, listens on GET, and deletes the session on close",
    async () => {
      const later = seen.filter((r) => r.method === "POST").slice(1);
      const sessionId = later[0]?.headers["mcp-session-id"];
      expect(sessionId).toBeTruthy();
      for (const r of later) {
        expect(r.headers["mcp-session-id"]).toBe(sessionId);
        expect(r.headers["mcp-protocol-version"]).toBe("2025-11-25");
      }
      expect(seen).toContainEqual(
        expect.objectContaining({
          method: "GET",
          status: 200,
          headers: expect.objectContaining({ accept: "text/event-stream" }),
        }),
      );
      await remote.close();
      expect(seen.at(-1)).toMatchObject({
        method: "DELETE",
        status: 200,
        headers: { "mcp-session-id": sessionId },
      });
      const after = await fetch(`${http.url}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": String(sessionId),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(after.status).toBe(404);
      await expect(remote.send({ jsonrpc: "2.0", id: 99, method: "tools/list" })).rejects.toThrow(/closed/);
    },
  );

  it.runIf(c.era === "stateless")("derives the 2026-07-28 headers and _meta from each message", () => {
    const call = seen.find((r) => r.headers["mcp-name"] === "write_to_channel");
    expect(call?.headers).toMatchObject({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      accept: "application/json, text/event-stream",
    });
    const watch = seen.find((r) => r.headers["mcp-name"] === "watch_channel");
    const meta = JSON.parse(String(watch?.body)).params._meta;
    expect(meta).toEqual({
      progressToken: "watch-stateless",
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
    });
    expect(seen.every((r) => r.method === "POST" && r.headers["mcp-session-id"] === undefined)).toBe(true);
  });
});

describe("connectRemote against the gateway", () => {
  it.each([
    { path: "/mcp", era: "session", version: "2025-11-25" },
    { path: "/sse", era: "legacy-sse", version: "2024-11-05" },
  ])(
    "finds the $era era at $path and hands the host the initialize answer",
    async ({ path, era, version }) => {
      const host = createHost();
      const remote = await connectRemote({
        url: new URL(`${http.url}${path}`),
        auth: NO_AUTH,
        onMessage: host.onMessage,
        hostInitialize: initializeMessage(7, version),
      });
      try {
        expect(remote.era).toBe(era);
        await until(() => host.messages.length > 0);
        expect(host.messages).toEqual([
          expect.objectContaining({ id: 7, result: expect.objectContaining({ protocolVersion: version }) }),
        ]);
        await remote.send({ jsonrpc: "2.0", method: "notifications/initialized" });
        expect(await host.request(remote, "tools/list")).toMatchObject({
          result: { tools: expect.any(Array) },
        });
      } finally {
        await remote.close();
      }
    },
  );
});
