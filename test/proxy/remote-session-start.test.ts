import { describe, expect, it } from "vitest";
import { createSessionRemote } from "../../src/proxy/remote/session-http.js";
import { NO_AUTH } from "../../src/proxy/types.js";
import { createHost, initializeParams } from "./remote-harness.js";

/**
 * A session server behind a scripted `fetch` that takes its time over
 * `notifications/initialized` and the GET stream, recording what reaches it
 * in order.
 */
function slowStart() {
  const arrived: string[] = [];
  const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const fetch = (async (_input: string | URL | Request, init?: RequestInit) => {
    if (init?.method === "GET") {
      arrived.push("GET");
      await later(30);
      const signal = init.signal;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("id: 1\ndata: \n\n"));
          signal?.addEventListener("abort", () => controller.close(), { once: true });
        },
      });
      return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
    }
    const message = JSON.parse(String(init?.body)) as { id?: number; method: string };
    arrived.push(`POST ${message.method}`);
    if (message.method === "notifications/initialized") {
      await later(30);
      return new Response(null, { status: 202 });
    }
    const result = message.method === "initialize" ? { protocolVersion: "2025-11-25", capabilities: {} } : {};
    return new Response(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }), {
      status: 200,
      headers: { "content-type": "application/json", "mcp-session-id": "s1" },
    });
  }) as typeof globalThis.fetch;
  return { fetch, arrived };
}

describe("the session remote as the session starts", () => {
  it("sends requests after notifications/initialized has arrived and the GET stream is open", async () => {
    const server = slowStart();
    const host = createHost();
    const remote = createSessionRemote({
      url: new URL("http://mcp.test/mcp"),
      auth: NO_AUTH,
      onMessage: host.onMessage,
      fetch: server.fetch,
    });
    try {
      await host.request(remote, "initialize", initializeParams());
      // A host does not wait for its notification before asking for the tools.
      void host.notify(remote, "notifications/initialized");
      await host.request(remote, "tools/list");
      expect(server.arrived).toEqual([
        "POST initialize",
        "POST notifications/initialized",
        "GET",
        "POST tools/list",
      ]);
    } finally {
      await remote.close();
    }
  });
});
