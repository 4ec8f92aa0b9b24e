import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import {
  GetHTTPItemResponseSchema,
  InventoryService,
  ItemSchema,
} from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { startConnectServer } from "../support/echo-server.js";
import { GATEWAY_CLIENT, type Idp, startIdp } from "../support/idp.js";
import { IMAGE_PATH } from "../support/image.js";
import { rawExchange } from "../support/raw-http.js";
import { statelessRequest } from "../support/stateless.js";

/** The MCP resource's identifier; tokens are minted for it. */
const AUDIENCE = "http://mcp.test/mcp";
const INVENTORY_AUDIENCE = "urn:inventory";

let idp: Idp;
let smack: RunningSmack;
let inventory: Awaited<ReturnType<typeof startConnectServer>>;
let http: HttpListener;
let url: string;
const seenAuthorization: (string | null)[] = [];
const seenSubject: (string | null)[] = [];

beforeAll(async () => {
  idp = await startIdp();
  smack = await startSmack({ port: 0 });
  inventory = await startConnectServer(InventoryService, {
    getHTTPItem: async (req, ctx) => {
      seenAuthorization.push(ctx.requestHeader.get("authorization"));
      seenSubject.push(ctx.requestHeader.get("x-mcpengine-subject"));
      return create(GetHTTPItemResponseSchema, { item: create(ItemSchema, { sku: req.sku }) });
    },
  });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      auth: {
        issuer: idp.issuer,
        audience: AUDIENCE,
        scopesSupported: ["smack.read", "smack.write", "inventory.read"],
        clientId: GATEWAY_CLIENT.id,
        clientSecret: GATEWAY_CLIENT.secret,
      },
      backends: [
        { name: "smack", target: `http://127.0.0.1:${smack.port}` },
        {
          name: "inventory",
          target: inventory.url,
          descriptors: IMAGE_PATH,
          services: ["mcpengine.testing.v1.InventoryService"],
          identity: { mode: "exchange", exchangeAudience: INVENTORY_AUDIENCE, claims: ["client_id"] },
        },
      ],
    }),
  );
  http = await (await createGateway(config)).listen();
  url = `${http.url}/mcp`;
});

afterAll(async () => {
  await http?.close();
  await Promise.all([smack?.close(), inventory?.close(), idp?.close()]);
});

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "auth-e2e", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

function post(body: unknown, headers: Record<string, string> = {}, target = url) {
  return fetch(target, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

describe("the gateway as a resource server", () => {
  it("answers a request without a token with 401 and a challenge the official SDK understands", async () => {
    const res = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(res.status).toBe(401);
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(res);
    expect(resourceMetadataUrl?.href).toBe("http://mcp.test/.well-known/oauth-protected-resource/mcp");
    expect(scope).toBe("smack.read smack.write inventory.read");
  });

  it("lets the official SDK discover the IdP from the protected resource metadata", async () => {
    const prm = await discoverOAuthProtectedResourceMetadata(url);
    expect(prm.resource).toBe(AUDIENCE);
    expect(prm.authorization_servers).toEqual([idp.issuer]);
    const as = await discoverAuthorizationServerMetadata(prm.authorization_servers?.[0] ?? "");
    expect(as?.token_endpoint).toBe(`${idp.issuer}/token`);
  });

  it("guards the GET stream and the 2024-11-05 /sse endpoint the same way", async () => {
    for (const target of [url, `${url.replace(/\/mcp$/, "")}/sse`]) {
      const res = await fetch(target, { headers: { accept: "text/event-stream" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("resource_metadata=");
      await res.body?.cancel();
    }
  });

  it("lets mcp-remote discover the IdP from our metadata and register with it", async () => {
    // A gateway whose public URL is where it listens, so the metadata a client follows is reachable.
    const port = await freePort();
    const own = `http://127.0.0.1:${port}`;
    const config = parseConfig(
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        publicUrl: own,
        auth: { issuer: idp.issuer, audience: `${own}/mcp` },
        backends: [{ name: "smack", target: `http://127.0.0.1:${smack.port}` }],
      }),
    );
    const gateway = await (await createGateway(config)).listen();
    const require = createRequire(import.meta.url);
    const proxy = join(dirname(require.resolve("mcp-remote/package.json")), "dist", "proxy.js");
    const home = mkdtempSync(join(tmpdir(), "mcp-remote-"));
    const registrations = () => idp.paths.filter((p) => p.startsWith("POST /reg")).length;
    const before = registrations();
    // No browser: PATH is empty, so the authorization step cannot open one.
    const child = spawn(process.execPath, [proxy, `${own}/mcp`, "--allow-http"], {
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: home, PATH: "/nonexistent" },
      stdio: ["pipe", "ignore", "pipe"],
    });
    let log = "";
    child.stderr.on("data", (b: Buffer) => {
      log += b.toString();
    });
    try {
      const initialize = {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      };
      child.stdin.write(`${JSON.stringify(initialize)}\n`);
      const deadline = Date.now() + 20_000;
      while (registrations() === before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      // Only a client that followed our RFC 9728 metadata to the IdP registers there (RFC 7591).
      expect(registrations(), `${idp.paths.join("\n")}\n${log.slice(-2000)}`).toBeGreaterThan(before);
    } finally {
      child.kill("SIGKILL");
      await gateway.close();
    }
  });

  it("ignores a token in the query string (401)", async () => {
    const token = await idp.token(AUDIENCE);
    const res = await post(
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      {},
      `${url}?access_token=${token}`,
    );
    expect(res.status).toBe(401);
  });

  it("refuses a token for another resource with invalid_token", async () => {
    const res = await post(
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { authorization: `Bearer ${await idp.token("https://elsewhere.example/mcp")}` },
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("calls Smack as the token's subject", async () => {
    const client = await connect(await idp.token(AUDIENCE, "smack.read smack.write"));
    const res = await client.callTool({
      name: "write_to_channel",
      arguments: { channel: "auth", text: "signed" },
    });
    expect(res.structuredContent).toMatchObject({ message: { author: "mcp-client", text: "signed" } });
    await client.close();
  });

  it("lists only the tools the token's scopes allow and answers 403 for the others", async () => {
    const token = await idp.token(AUDIENCE, "smack.read");
    const client = await connect(token);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(["list_channels", "read_channel", "watch_channel"]);
    await client.close();
    const call = statelessRequest(2, "tools/call", { name: "write_to_channel", arguments: {} });
    const res = await fetch(url, {
      method: "POST",
      headers: { ...call.headers, authorization: `Bearer ${token}` },
      body: call.body,
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toMatch(/error="insufficient_scope", scope="smack.write"/);
  });

  it("refuses a 2024-11-05 call without its scope on the stream, naming the scope (not -32603)", async () => {
    const token = await idp.token(AUDIENCE, "smack.read");
    const headers = { authorization: `Bearer ${token}` };
    const stream = await fetch(`${url.replace(/\/mcp$/, "")}/sse`, {
      headers: { ...headers, accept: "text/event-stream" },
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const next = async (until: (t: string) => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!until(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await next((t) => /data: (\S+)/.test(t));
    const endpoint = (/event: endpoint\ndata: (\S+)/.exec(text) as RegExpExecArray)[1] as string;
    const send = (body: unknown) =>
      fetch(new URL(endpoint, url), {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const init = {
      protocolVersion: "2024-11-05",
      capabilities: {},
      clientInfo: { name: "legacy", version: "1" },
    };
    expect((await send({ jsonrpc: "2.0", id: 1, method: "initialize", params: init })).status).toBe(202);
    const call = { name: "write_to_channel", arguments: { channel: "auth", text: "nope" } };
    expect((await send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: call })).status).toBe(202);
    await next((t) => t.includes('"id":2'));
    void reader.cancel();
    const line = text.split("\n").find((l) => l.includes('"id":2')) as string;
    const answer = JSON.parse(line.slice("data: ".length));
    expect(answer.error).toMatchObject({
      code: -32600,
      data: { error: "insufficient_scope", scope: "smack.write" },
    });
  });

  it("guards an RPC's resource form with the scopes of its tool option", async () => {
    const token = await idp.token(AUDIENCE, "inventory.read");
    const send = (method: string, params: Record<string, unknown>) => {
      const call = statelessRequest(3, method, params);
      return fetch(url, {
        method: "POST",
        headers: { ...call.headers, authorization: `Bearer ${token}` },
        body: call.body,
      });
    };
    const templates = await (await send("resources/templates/list", {})).json();
    expect((templates as { result: { resourceTemplates: unknown[] } }).result.resourceTemplates).toEqual([]);
    const read = await send("resources/read", { uri: "smack://channels/general/messages" });
    expect(read.status).toBe(403);
    expect(read.headers.get("www-authenticate")).toMatch(/error="insufficient_scope", scope="smack.read"/);
  });

  it("sends an exchanged, backend-audience token in exchange mode — never the client's", async () => {
    const token = await idp.token(AUDIENCE, "inventory.read");
    const client = await connect(token);
    const res = await client.callTool({ name: "inv_get_http_item", arguments: { sku: "A1" } });
    expect(res.isError).toBeFalsy();
    await client.close();
    const sent = seenAuthorization.at(-1) ?? "";
    expect(sent).toMatch(/^Bearer /);
    expect(sent).not.toContain(token);
    const claims = decodeJwt(sent.slice("Bearer ".length));
    expect(claims.aud).toBe(INVENTORY_AUDIENCE);
    expect(claims.sub).toBe("mcp-client");
    expect(seenSubject.at(-1)).toBe("mcp-client");
  });
});

/** A TCP port free on 127.0.0.1 at the time of asking. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("admission at the edge", () => {
  it("answers 401 to an unauthenticated 50 MB POST and closes without reading the body", async () => {
    const { host } = new URL(url);
    const answer = await rawExchange(
      url,
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n${"x".repeat(1024)}`,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 401/);
    expect(answer.text.toLowerCase()).toContain("connection: close");
    expect(answer.closed).toBe(true);
  });

  it.each(["Authorization", "Host"])("refuses a request with two %s headers with 400", async (name) => {
    const { host } = new URL(url);
    const token = await idp.token(AUDIENCE);
    const headers =
      name === "Host"
        ? `Host: ${host}\r\nHost: evil.example\r\nAuthorization: Bearer ${token}\r\n`
        : `Host: ${host}\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer other\r\n`;
    const answer = await rawExchange(url, `GET /mcp HTTP/1.1\r\n${headers}Accept: text/event-stream\r\n\r\n`);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400/);
    expect(answer.text).toContain(`more than one ${name} header`);
  });
});
