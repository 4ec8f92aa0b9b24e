import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import {
  CHAOS_MODES,
  type ChaosBackend,
  type ChaosMode,
  HUGE_MESSAGE_BYTES,
  startChaosBackend,
} from "../support/chaos-backend.js";
import { IMAGE_PATH } from "../support/image.js";
import { STATELESS_META } from "../support/stateless.js";

/**
 * The gateway in front of a backend that breaks the gRPC protocol in every way
 * the chaos backend knows (issue 16), driven over HTTP as MCP clients drive
 * it, in the 2026-07-28 (stateless) era and in a 2025-11-25 session. Each fault
 * must end its call with a tool error that names the backend and the problem;
 * after each, the gateway must still serve the same backend, the backend must
 * see no stream left open, and the process must hold no more sockets, timers
 * or other handles than before the fault.
 */
let chaos: ChaosBackend;
let http: HttpListener;
let url: URL;

const DEADLINE_MS = 500;
const MAX_RESULT_BYTES = 65_536;
const UNARY = "inv_get_http_item";
const STREAM = "inv_tail_item";

beforeAll(async () => {
  chaos = await startChaosBackend();
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      maxResultBytes: MAX_RESULT_BYTES,
      backends: [
        {
          name: "chaos",
          target: chaos.url,
          descriptors: IMAGE_PATH,
          services: ["mcpengine.testing.v1.InventoryService"],
          timeout: `${DEADLINE_MS / 1000}s`,
          // One attempt per call: each case checks how one call ends on its fault. Retries of
          // idempotent calls on these faults: test/integration/backend-connections.test.ts.
          maxAttempts: 1,
        },
      ],
    }),
    { source: "chaos-backend.test" },
  );
  http = await (await createGateway(config)).listen();
  url = new URL(`${http.url}/mcp`);
});

afterAll(async () => {
  await http?.close();
  await chaos?.close();
});

// --- expected outcomes -----------------------------------------------------------------------

/** What a tool call must end with: its exact text, and for a deadline, how long it may take. */
interface Outcome {
  readonly text: RegExp;
  readonly deadline?: true;
}

const TRANSIENT = "\nThis error is transient; the call may be retried.";
const fault = (phrase: string, code: string, message: string, transient = false): RegExp =>
  new RegExp(`^${literal(`${phrase} (${code}): ${message}${transient ? TRANSIENT : ""}`)}$`);
const both = (o: Outcome) => ({ unary: o, stream: o });

const B = 'backend "chaos"';
/** The connection under the call was lost (PROTOCOL-HTTP2: a transport failure is UNAVAILABLE). */
const CONNECTION_CLOSED = fault(
  "The backend is unavailable",
  "UNAVAILABLE",
  `the connection to ${B} closed before the call ended`,
  true,
);
const DEADLINE: Outcome = {
  text: fault(
    "The backend did not answer in time",
    "DEADLINE_EXCEEDED",
    `${B} did not complete the call within its deadline of ${DEADLINE_MS} ms`,
    true,
  ),
  deadline: true,
};

/**
 * Every fault's outcome, for GetHTTPItem (unary) and TailItem (server stream).
 * Codes follow gRPC's PROTOCOL-HTTP2 (RST_STREAM codes, framing),
 * http-grpc-status-mapping.md (a response without grpc-status) and
 * statuscodes.md (cardinality, message limits); every one is a tool result
 * with `isError: true` (MCP server/tools "Error Handling").
 */
const EXPECTED: { readonly [M in ChaosMode]: { readonly unary: Outcome; readonly stream: Outcome } } = {
  "garbage-frame": both({
    text: fault(
      "The backend failed",
      "INTERNAL",
      `${B} sent a reply that is not gRPC framing (flag byte 7, not 0 or 1)`,
    ),
  }),
  "bad-protobuf": {
    unary: {
      text: fault(
        "The backend failed",
        "INTERNAL",
        `${B}'s reply is not a valid mcpengine.testing.v1.GetHTTPItemResponse: premature EOF`,
      ),
    },
    stream: {
      text: fault(
        "The backend failed",
        "INTERNAL",
        `${B}'s reply is not a valid mcpengine.testing.v1.TailItemResponse: premature EOF`,
      ),
    },
  },
  // No grpc-status: the HTTP status decides, and 200 is not in the table: UNKNOWN.
  "wrong-content-type": both({
    text: fault(
      "The backend failed",
      "UNKNOWN",
      `${B} answered HTTP 200 with content-type "text/html; charset=utf-8", not a gRPC response`,
    ),
  }),
  "http-status": both({
    text: fault("The backend is unavailable", "UNAVAILABLE", `HTTP 503 from ${B}`, true),
  }),
  rst: both({
    text: fault("The backend failed", "INTERNAL", `${B} reset the call (RST_STREAM INTERNAL_ERROR)`),
  }),
  cancel: both({
    text: fault("The call was cancelled", "CANCELLED", `${B} cancelled the call (RST_STREAM CANCEL)`),
  }),
  // Refused twice: once on the shared connection, once more on a new one (RFC 9113 §8.7).
  refuse: both({
    text: fault(
      "The backend is unavailable",
      "UNAVAILABLE",
      `${B} refused the call (RST_STREAM REFUSED_STREAM)`,
      true,
    ),
  }),
  goaway: both({ text: CONNECTION_CLOSED }),
  "goaway-error": both({
    text: fault(
      "The backend is unavailable",
      "UNAVAILABLE",
      `the connection to ${B} failed: the backend sent GOAWAY INTERNAL_ERROR`,
      true,
    ),
  }),
  "missing-status": both({
    text: fault("The backend failed", "UNKNOWN", `${B} ended the call without a grpc-status`),
  }),
  "no-trailers": both({
    text: fault("The backend failed", "INTERNAL", `${B} ended the call without trailers (no grpc-status)`),
  }),
  "huge-message": both({
    text: new RegExp(
      `^${literal(`Resource exhausted (RESOURCE_EXHAUSTED): ${B} sent a reply message of `)}(\\d+)${literal(
        ` bytes (limit ${MAX_RESULT_BYTES})${TRANSIENT}`,
      )}$`,
    ),
  }),
  "length-bomb": both({
    text: fault(
      "Resource exhausted",
      "RESOURCE_EXHAUSTED",
      `${B} sent a reply message of 2147483647 bytes (limit ${MAX_RESULT_BYTES})`,
      true,
    ),
  }),
  hang: both(DEADLINE),
  "hang-after-headers": both(DEADLINE),
  "slow-headers": both(DEADLINE),
  "endless-stream": {
    // A second message breaks a unary call at once (statuscodes.md: response cardinality violation).
    unary: {
      text: fault(
        "Not implemented by the backend",
        "UNIMPLEMENTED",
        `${B} sent more than one reply message to a unary call`,
      ),
    },
    // max_result_bytes ends it long before the deadline, and cancels the RPC.
    stream: {
      text: new RegExp(
        `^${literal(`The result of tool "${STREAM}" exceeds ${MAX_RESULT_BYTES} bytes after `)}\\d+${literal(
          ` messages from backend "chaos"; the call was cancelled.`,
        )}$`,
      ),
    },
  },
  "destroy-socket": both({ text: CONNECTION_CLOSED }),
};

/** Faults that destroy the connection every call to the backend shares. */
const CONNECTION_FAULTS: readonly ChaosMode[] = ["goaway", "goaway-error", "destroy-socket"];
/** How a call in flight on a connection such a fault destroys ends. */
const CONNECTION_LOST = new RegExp(
  `^${literal(`The backend is unavailable (UNAVAILABLE): the connection to ${B} `)}(closed before the call ended|failed: .*)${literal(TRANSIENT)}$`,
);

// --- MCP over HTTP -----------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON-RPC payloads
type Loose = any;

/** How a test reaches the gateway: one era's headers and `_meta` around a JSON-RPC request. */
interface Era {
  readonly name: string;
  start(): Promise<void>;
  call(id: number, tool: string, args: Record<string, unknown>): Promise<Loose>;
  stop(): Promise<void>;
}

/**
 * POSTs one JSON-RPC message on a connection of its own (no keep-alive, so
 * that no client socket outlives the call), and returns the response to
 * `id`, read from a JSON body or an SSE stream.
 */
function post(
  body: unknown,
  headers: Record<string, string>,
  id?: number,
  target = url,
): Promise<{ status: number; headers: Record<string, unknown>; message: Loose }> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("error", reject);
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, message: answer(text, id) });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error("no answer from the gateway within 15 s")));
    req.end(JSON.stringify(body));
  });
}

/** The JSON-RPC response to `id` in a JSON body or among the `data:` lines of an SSE body. */
function answer(text: string, id: number | undefined): Loose {
  if (id === undefined || !text.trim()) return undefined;
  if (text.trimStart().startsWith("{")) return JSON.parse(text);
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (!data) continue;
    const message = JSON.parse(data);
    if (message.id === id) return message;
  }
  throw new Error(`no response to request ${id} in: ${text.slice(0, 500)}`);
}

/** The 2026-07-28 era against the MCP endpoint `target()`: each request carries its own `_meta`. */
function statelessEra(target: () => URL): Era {
  return {
    name: "2026-07-28 (stateless)",
    start: async () => {},
    async call(id, tool, args) {
      const res = await post(
        {
          jsonrpc: "2.0",
          id,
          method: "tools/call",
          params: { name: tool, arguments: args, _meta: STATELESS_META },
        },
        { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": tool },
        id,
        target(),
      );
      expect(res.status).toBe(200);
      return res.message;
    },
    stop: async () => {},
  };
}

const stateless = statelessEra(() => url);

function sessionEra(version: string): Era {
  let session = "";
  const headers = () => ({ "mcp-session-id": session, "mcp-protocol-version": version });
  return {
    name: `${version} (session)`,
    async start() {
      const init = await post(
        {
          jsonrpc: "2.0",
          id: 0,
          method: "initialize",
          params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "chaos", version: "1" } },
        },
        {},
        0,
      );
      expect(init.status).toBe(200);
      session = String(init.headers["mcp-session-id"] ?? "");
      expect(session).not.toBe("");
      const ready = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers());
      expect(ready.status).toBe(202);
    },
    async call(id, tool, args) {
      const res = await post(
        { jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: args } },
        headers(),
        id,
      );
      expect(res.status).toBe(200);
      return res.message;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        const req = request(url, { method: "DELETE", agent: false, headers: headers() }, (res) => {
          res.resume();
          res.on("end", resolve);
        });
        req.on("error", () => resolve());
        req.end();
      });
    },
  };
}

let nextId = 1;

/** Calls `tool` for `sku` and checks the result is the correct reply of the chaos backend. */
async function expectServes(era: Era, sku: string): Promise<void> {
  const [unary, stream] = await Promise.all([
    era.call(nextId++, UNARY, { sku }),
    era.call(nextId++, STREAM, { sku, count: 3 }),
  ]);
  expect(unary.result?.isError, JSON.stringify(unary)).toBeFalsy();
  expect(unary.result.structuredContent).toEqual({ item: { sku, name: sku } });
  expect(stream.result?.isError, JSON.stringify(stream)).toBeFalsy();
  expect(stream.result.structuredContent.messages.map((m: Loose) => m.item.sku)).toEqual([
    `${sku}-0`,
    `${sku}-1`,
    `${sku}-2`,
  ]);
}

/** Calls `tool` with a fault's sku; the tool result's text and how long the call took. */
async function callFault(
  era: Era,
  tool: string,
  mode: ChaosMode,
): Promise<{ text: string; ms: number; response: Loose }> {
  const started = Date.now();
  const response = await era.call(nextId++, tool, tool === STREAM ? { sku: mode, count: 3 } : { sku: mode });
  const ms = Date.now() - started;
  // A backend failure is a tool result, never a JSON-RPC error (MCP server/tools "Error Handling").
  expect(response.error, JSON.stringify(response)).toBeUndefined();
  expect(response.result?.isError, JSON.stringify(response)).toBe(true);
  expect(response.result.content).toHaveLength(1);
  expect(response.result.content[0].type).toBe("text");
  return { text: response.result.content[0].text, ms, response };
}

function expectOutcome(mode: ChaosMode, got: { text: string; ms: number }, expected: Outcome): void {
  expect(got.text, mode).toMatch(expected.text);
  if (expected.deadline) {
    // Ended by the deadline: not before it, and not long after it (the sweep runs every 50 ms).
    expect(got.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(got.ms).toBeLessThan(DEADLINE_MS + 2_500);
  }
  if (mode === "huge-message") {
    const size = Number(expected.text.exec(got.text)?.[1]);
    expect(size).toBeGreaterThan(HUGE_MESSAGE_BYTES);
  }
}

// --- leak checks -------------------------------------------------------------------------------

type Census = Map<string, number>;

/** The process's active handles and requests by type (sockets, servers, timers, …). */
function census(): Census {
  const counts: Census = new Map();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Types with more resources in `now` than in `base`, e.g. `TCPSocketWrap 4 > 2`. */
function excess(now: Census, base: Census): string[] {
  return [...now]
    .filter(([type, n]) => n > (base.get(type) ?? 0))
    .map(([type, n]) => `${type} ${n} > ${base.get(type) ?? 0}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (at most `ms`) until the backend has no stream open, holds at most
 * `connections` connections (one per gateway), and the process holds no
 * resource type more than in `base`; fails naming what is left.
 */
async function expectNoLeaks(base: Census, connections = 1, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  for (let i = 0; ; i++) {
    const left = excess(census(), base);
    const streams = chaos.openStreams();
    const sessions = chaos.openSessions();
    if (left.length === 0 && streams === 0 && sessions <= connections) return;
    if (Date.now() > until || i > 500) {
      const extraSessions = Math.max(0, sessions - connections);
      expect({ streams, extraSessions, left }).toEqual({ streams: 0, extraSessions: 0, left: [] });
      return;
    }
    await sleep(10);
  }
}

/** A baseline once the backend connection is up and nothing else moves: two equal censuses in a row. */
async function baseline(era: Era, sku: string): Promise<Census> {
  await expectServes(era, sku);
  let last = census();
  for (let i = 0; i < 100; i++) {
    await sleep(20);
    const now = census();
    if (chaos.openStreams() === 0 && excess(now, last).length === 0 && excess(last, now).length === 0)
      return now;
    last = now;
  }
  throw new Error(`the process did not settle: ${[...last].join(", ")}`);
}

// --- the cases ---------------------------------------------------------------------------------

describe("the chaos backend's catalog", () => {
  it("is served as the two inventory tools the cases call", async () => {
    const res = await post(
      { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: STATELESS_META } },
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
      1,
    );
    const names = res.message.result.tools.map((t: { name: string }) => t.name);
    expect(names).toContain(UNARY);
    expect(names).toContain(STREAM);
  });
});

describe.each([stateless, sessionEra("2025-11-25")])("a faulty backend, $name", (era) => {
  beforeAll(() => era.start());
  afterAll(() => era.stop());

  it.each(CHAOS_MODES)("%s: ends only that call, with its error, and leaks nothing", async (mode) => {
    const base = await baseline(era, `before-${mode}`);
    const [unary, stream] = await Promise.all([callFault(era, UNARY, mode), callFault(era, STREAM, mode)]);
    expectOutcome(mode, unary, EXPECTED[mode].unary);
    expectOutcome(mode, stream, EXPECTED[mode].stream);
    // The gateway still serves the same backend (on a new connection where the old one is gone).
    await expectServes(era, `after-${mode}`);
    await expectNoLeaks(base);
  });
});

describe("many faults at once", () => {
  /** Every fault of `modes` twice, on both tools, and ten good calls among them, all at once. */
  async function mix(modes: readonly ChaosMode[], lost: RegExp | undefined): Promise<void> {
    const faults = [...modes, ...modes].flatMap((mode) =>
      [UNARY, STREAM].map(async (tool) => ({ mode, tool, got: await callFault(stateless, tool, mode) })),
    );
    const good = Array.from({ length: 10 }, async (_, i) => {
      await sleep(i * 20);
      return stateless.call(nextId++, UNARY, { sku: `good-${i}` });
    });
    const [results, goods] = await Promise.all([Promise.all(faults), Promise.all(good)]);
    for (const { mode, tool, got } of results) {
      const expected = EXPECTED[mode][tool === UNARY ? "unary" : "stream"];
      if (lost?.test(got.text) && !expected.text.test(got.text)) continue;
      expectOutcome(mode, got, expected);
    }
    for (const [i, res] of goods.entries()) {
      if (lost && res.result?.isError && lost.test(res.result.content[0].text)) continue;
      expect(res.result?.structuredContent?.item?.sku, JSON.stringify(res)).toBe(`good-${i}`);
    }
  }

  it("ends each call with its own outcome, serves good calls among them, and leaks nothing", async () => {
    const base = await baseline(stateless, "before-mix");
    // Faults that keep the connection: every call ends exactly as it does alone.
    await mix(
      CHAOS_MODES.filter((m) => !CONNECTION_FAULTS.includes(m)),
      undefined,
    );
    // With faults that destroy the connection all calls share, a call in flight on it may instead
    // end as UNAVAILABLE (the connection is lost); nothing else.
    await mix(CHAOS_MODES, CONNECTION_LOST);
    await expectServes(stateless, "after-mix");
    await expectNoLeaks(base);
  });
});

describe("a gateway with the default limits", () => {
  let wide: HttpListener;
  const era = statelessEra(() => new URL(`${wide.url}/mcp`));

  beforeAll(async () => {
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [
          {
            name: "chaos",
            target: chaos.url,
            descriptors: IMAGE_PATH,
            services: ["mcpengine.testing.v1.InventoryService"],
            timeout: "10s",
          },
        ],
      }),
      { source: "chaos-backend.test" },
    );
    wide = await (await createGateway(config)).listen();
  });
  afterAll(() => wide?.close());

  it("ends a stream without end at 10,000 messages with a tool error, not a truncated result", async () => {
    const base = await baseline(era, "before-count");
    const got = await callFault(era, STREAM, "endless-stream");
    expect(got.text).toBe(
      `The result of tool "${STREAM}" exceeds 10000 messages from backend "chaos"; the call was cancelled.`,
    );
    // Exactly the bound is a whole result.
    const full = await era.call(nextId++, STREAM, { sku: "full", count: 10_000 });
    expect(full.result?.isError).toBeFalsy();
    expect(full.result.structuredContent.messages).toHaveLength(10_000);
    await expectServes(era, "after-count");
    await expectNoLeaks(base, 2);
  });
});

/** `s` as a regular expression that matches it literally. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
