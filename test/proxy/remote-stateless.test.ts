import { describe, expect, it } from "vitest";
import { RemoteRpcError } from "../../src/proxy/remote/http.js";
import { createStatelessRemote } from "../../src/proxy/remote/stateless-http.js";
import { NO_AUTH } from "../../src/proxy/types.js";
import { createHost } from "./remote-harness.js";

/**
 * The stateless remote against a scripted server (a `fetch`, no sockets):
 * each POST is answered by `answer`, which sees the body and the headers.
 */
function scripted(
  answer: (body: { [k: string]: unknown }, headers: Headers, n: number) => Response,
  clientInfo?: { name: string; version: string },
) {
  const posts: { body: { [k: string]: unknown }; headers: Headers }[] = [];
  const logs: string[] = [];
  const host = createHost();
  const remote = createStatelessRemote({
    url: new URL("http://mcp.test/mcp"),
    auth: NO_AUTH,
    onMessage: host.onMessage,
    log: (m) => logs.push(m),
    protocolVersion: "2026-07-28",
    clientCapabilities: {},
    ...(clientInfo ? { clientInfo } : {}),
    fetch: (async (_url, init) => {
      const body = JSON.parse(String(init?.body)) as { [k: string]: unknown };
      const headers = new Headers(init?.headers);
      posts.push({ body, headers });
      return answer(body, headers, posts.length);
    }) as typeof fetch,
  });
  return { remote, host, posts, logs };
}

const json = (status: number, value: object) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
const ok = (body: { [k: string]: unknown }, result: object) =>
  json(200, { jsonrpc: "2.0", id: body.id, result: { resultType: "complete", ...result } });
const unsupported = (body: { [k: string]: unknown }, supported: string[]) =>
  json(400, {
    jsonrpc: "2.0",
    id: body.id,
    error: { code: -32022, message: "Unsupported protocol version", data: { supported, requested: "x" } },
  });

describe("the stateless remote (MCP 2026-07-28 Streamable HTTP)", () => {
  it("leaves tools with invalid x-mcp-header declarations out of tools/list, and mirrors the others", async () => {
    const { remote, host, posts, logs } = scripted((body) =>
      body.method === "tools/list"
        ? ok(body, {
            tools: [
              {
                name: "good",
                inputSchema: {
                  type: "object",
                  properties: { region: { type: "string", "x-mcp-header": "Region" } },
                },
              },
              {
                name: "bad",
                inputSchema: { type: "object", properties: { n: { type: "number", "x-mcp-header": "N" } } },
              },
            ],
          })
        : ok(body, { content: [] }),
    );
    const listed = await host.request(remote, "tools/list");
    expect((listed.result as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(["good"]);
    expect(logs.join("\n")).toMatch(/left the tool bad out of tools\/list/);
    await host.request(remote, "tools/call", { name: "good", arguments: { region: "eu-west" } });
    expect(posts[1]?.headers.get("mcp-param-region")).toBe("eu-west");
  });

  it("sends its own request again once when the server refuses 2026-07-28 but lists it", async () => {
    const { remote, host, posts } = scripted((body, _h, n) =>
      n === 1 ? unsupported(body, ["2026-07-28"]) : ok(body, { supportedVersions: ["2026-07-28"] }),
    );
    const answer = await host.request(remote, "server/discover");
    expect(answer.result).toMatchObject({ supportedVersions: ["2026-07-28"] });
    expect(posts).toHaveLength(2);
    expect(posts.map((p) => p.headers.get("mcp-protocol-version"))).toEqual(["2026-07-28", "2026-07-28"]);
  });

  it("does not retry when the server lists only versions it does not speak", async () => {
    const { remote, host, posts } = scripted((body) => unsupported(body, ["2027-01-01"]));
    await expect(host.request(remote, "server/discover")).rejects.toBeInstanceOf(RemoteRpcError);
    expect(posts).toHaveLength(1);
  });

  it("leaves the choice to a host that named its own version", async () => {
    const { remote, host, posts } = scripted((body) => unsupported(body, ["2026-07-28"]));
    const meta = { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } };
    const sent = host.request(remote, "tools/list", meta);
    await expect(sent).rejects.toMatchObject({ error: { code: -32022 } });
    expect(posts).toHaveLength(1);
  });

  it("names the client in every request's _meta when told who it is, the host's own _meta winning", async () => {
    const info = { name: "mcpengine-proxy", version: "1" };
    const { remote, host, posts } = scripted((body) => ok(body, {}), info);
    await host.request(remote, "server/discover");
    const own = { name: "host", version: "2" };
    await host.request(remote, "ping", { _meta: { "io.modelcontextprotocol/clientInfo": own } });
    const metas = posts.map((p) => (p.body.params as { _meta: { [k: string]: unknown } })._meta);
    expect(metas.map((m) => m["io.modelcontextprotocol/clientInfo"])).toEqual([info, own]);
  });
});
