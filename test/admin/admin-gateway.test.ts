import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/es/mcpengine/v1/admin_pb.js";
import { ADMIN_CALL_MESSAGE } from "../../src/admin/index.js";
import { parseConfig } from "../../src/config/index.js";
import { loadDescriptors } from "../../src/descriptors/index.js";
import { createGateway, type Gateway, type GatewayListener } from "../../src/gateway.js";
import { createLogger } from "../../src/observe/index.js";
import { startJwks } from "../observe/rig.js";
import { imageRegistry } from "../support/image.js";
import { makeTestPki, OPENSSL } from "../support/test-ca.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

/** A loopback port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A descriptor set of these proto files and everything they import, imports first. */
function descriptorSet(...names: string[]): Uint8Array {
  const files: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (files.includes(file)) return;
    for (const dep of file.dependencies) visit(dep);
    files.push(file);
  };
  for (const name of names) {
    const file = imageRegistry().getFile(name);
    if (!file) throw new Error(`${name} is not in the image`);
    visit(file);
  }
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }),
  );
}

/** A gateway with one file-described backend and the admin API on loopback; every log line kept. */
async function startGateway(extra: Record<string, unknown>, descriptors: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ sink: { write: (l) => lines.push(JSON.parse(l)) } });
  const config = parseConfig(
    JSON.stringify({
      listen: "127.0.0.1:0",
      reload_interval: "0s",
      backends: [{ name: "smack", target: "http://127.0.0.1:1", descriptors }],
      ...extra,
    }),
    { source: "test" },
  );
  const gateway = await createGateway(config, { logger });
  const listener = await gateway.listen();
  return { gateway, listener, lines };
}

const adminLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === ADMIN_CALL_MESSAGE);

describe("the admin API of a running gateway, without auth", () => {
  let dir: string;
  /** The file the backend's descriptors are read from (through a symlink, see below). */
  let target: string;
  let gateway: Gateway;
  let listener: GatewayListener;
  let lines: Record<string, unknown>[];
  let admin: Client<typeof AdminService>;
  let grpc: Transport;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mcpengine-admin-"));
    // The gateway watches the folder of its descriptor file and reloads on a change. The file it
    // is given is a link into another folder, so writing the target is seen by Reload alone.
    mkdirSync(join(dir, "store"));
    mkdirSync(join(dir, "watched"));
    target = join(dir, "store", "image.binpb");
    writeFileSync(target, descriptorSet("smack/v1/smack.proto"));
    symlinkSync(target, join(dir, "watched", "image.binpb"));
    ({ gateway, listener, lines } = await startGateway(
      { admin_listen: "127.0.0.1:0" },
      join(dir, "watched", "image.binpb"),
    ));
    grpc = createGrpcTransport({ baseUrl: listener.adminUrl ?? "" });
    admin = createClient(AdminService, grpc);
  });
  afterAll(async () => {
    await listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves on its own address, named on the listener and in the start-up line", () => {
    expect(listener.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listener.adminUrl).not.toBe(listener.url);
    expect(lines.find((l) => String(l.msg).startsWith("mcpengine listening on "))).toMatchObject({
      admin: listener.adminUrl,
    });
  });

  it("ListBackends answers the backend with its target, readiness and tool count (gRPC)", async () => {
    const { backends } = await admin.listBackends({});
    expect(
      backends.map(({ name, target, ready, tools, error }) => ({ name, target, ready, tools, error })),
    ).toEqual([
      { name: "smack", target: "http://127.0.0.1:1", ready: true, tools: gateway.tools.length, error: "" },
    ]);
    expect(gateway.tools.length).toBeGreaterThan(0);
  });

  it("GetCatalog answers the tools with their RPCs, the resource templates and when the catalog was loaded (gRPC)", async () => {
    const res = await admin.getCatalog({});
    expect(res.tools.map((t) => [t.name, t.backend, t.method])).toContainEqual([
      "read_channel",
      "smack",
      "smack.v1.SmackService/ReadChannel",
    ]);
    expect(res.tools).toHaveLength(gateway.tools.length);
    expect(res.resourceTemplates).toEqual(gateway.surface.templates.map((t) => t.uriTemplate));
    expect(res.resourceTemplates.length).toBeGreaterThan(0);
    expect(res.loadedAt && timestampDate(res.loadedAt).getTime()).toBe(gateway.catalogLoadedAt.getTime());
  });

  it("GetSessions counts a session opened on the MCP endpoint, and its end (gRPC)", async () => {
    const before = await admin.getSessions({});
    const mcp = new McpClient({ name: "admin-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${listener.url}/mcp`));
    await mcp.connect(transport);
    try {
      const during = await admin.getSessions({});
      expect(during.sessions).toBe(before.sessions + 1);
      expect(during.running).toBe(0);
    } finally {
      await transport.terminateSession();
      await mcp.close();
    }
    await expect.poll(async () => (await admin.getSessions({})).sessions).toBe(before.sessions);
  });

  it("answers the Connect protocol with JSON too", async () => {
    const connect = createClient(
      AdminService,
      createConnectTransport({ baseUrl: listener.adminUrl ?? "", httpVersion: "2", useBinaryFormat: false }),
    );
    const res = await connect.listBackends({});
    expect(res.backends.map((b) => b.name)).toEqual(["smack"]);
  });

  it("serves gRPC server reflection, so a reflection client loads AdminService", async () => {
    const loaded = await loadDescriptors({ kind: "reflection", transport: grpc, origin: "admin" });
    expect(loaded.services.map((s) => s.typeName)).toContain("mcpengine.v1.AdminService");
  });

  it("answers buf curl, which finds the schema by reflection", async () => {
    const { stdout } = await promisify(execFile)(
      BUF,
      [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        `${listener.adminUrl}/mcpengine.v1.AdminService/ListBackends`,
      ],
      { timeout: 30_000 },
    );
    expect(JSON.parse(stdout)).toMatchObject({ backends: [{ name: "smack", ready: true }] });
  });

  it("Reload picks up a changed descriptor file, and GetCatalog then lists the new tools (gRPC)", async () => {
    const before = gateway.tools.length;
    const loadedBefore = gateway.catalogLoadedAt.getTime();
    writeFileSync(target, descriptorSet("smack/v1/smack.proto", "mcpengine/testing/v1/kitchen_sink.proto"));
    const res = await admin.reload({});
    expect([res.changed, res.error]).toEqual([true, ""]);
    expect(res.tools).toBeGreaterThan(before);
    const catalog = await admin.getCatalog({});
    expect(catalog.tools).toHaveLength(res.tools);
    expect(catalog.tools.map((t) => t.method)).toContain("mcpengine.testing.v1.EchoService/Echo");
    expect(catalog.loadedAt ? timestampDate(catalog.loadedAt).getTime() : 0).toBeGreaterThanOrEqual(
      loadedBefore,
    );
    const again = await admin.reload({});
    expect([again.changed, again.tools, again.error]).toEqual([false, res.tools, ""]);
  });

  it("Reload answers the error of an unreadable descriptor file and keeps the catalog (gRPC)", async () => {
    const before = gateway.tools.length;
    writeFileSync(target, "not a descriptor set");
    const res = await admin.reload({});
    expect(res.changed).toBe(false);
    expect(res.error).not.toBe("");
    expect(res.tools).toBe(before);
    expect((await admin.getCatalog({})).tools).toHaveLength(before);
  });

  it("logs each call with its RPC and outcome", () => {
    expect(adminLines(lines)).toContainEqual(
      expect.objectContaining({
        level: "info",
        rpc: "mcpengine.v1.AdminService/ListBackends",
        outcome: "ok",
      }),
    );
    expect(adminLines(lines).every((l) => l.subject === undefined)).toBe(true);
  });
});

describe("a gateway without admin_listen", () => {
  it("serves no admin API and says so at start-up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcpengine-admin-"));
    const file = join(dir, "image.binpb");
    writeFileSync(file, descriptorSet("smack/v1/smack.proto"));
    const { listener, lines } = await startGateway({}, file);
    try {
      expect(listener.adminUrl).toBeUndefined();
      expect(lines.find((l) => String(l.msg).startsWith("mcpengine listening on "))).toMatchObject({
        admin: "off",
      });
    } finally {
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a gateway whose main listener cannot bind", () => {
  it("does not leave its admin listener open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcpengine-admin-"));
    const file = join(dir, "image.binpb");
    writeFileSync(file, descriptorSet("smack/v1/smack.proto"));
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const adminPort = await freePort();
    try {
      const config = parseConfig(
        JSON.stringify({
          listen: `127.0.0.1:${(taken.address() as AddressInfo).port}`,
          admin_listen: `127.0.0.1:${adminPort}`,
          reload_interval: "0s",
          backends: [{ name: "smack", target: "http://127.0.0.1:1", descriptors: file }],
        }),
        { source: "test" },
      );
      const gateway = await createGateway(config);
      await expect(gateway.listen()).rejects.toThrow(/EADDRINUSE/);
      await gateway.close();
      // The admin port is free again: binding it succeeds.
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once("error", reject);
        again.listen(adminPort, "127.0.0.1", resolve);
      });
      await new Promise<void>((r) => again.close(() => r()));
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the admin API of a gateway with auth", () => {
  const ISSUER = "http://idp.test";
  const AUDIENCE = "http://gateway.test/mcp";
  let jwks: Awaited<ReturnType<typeof startJwks>>;
  let dir: string;
  let listener: GatewayListener;
  let lines: Record<string, unknown>[];
  let admin: Client<typeof AdminService>;

  beforeAll(async () => {
    jwks = await startJwks();
    dir = mkdtempSync(join(tmpdir(), "mcpengine-admin-"));
    const file = join(dir, "image.binpb");
    writeFileSync(file, descriptorSet("smack/v1/smack.proto"));
    ({ listener, lines } = await startGateway(
      {
        admin_listen: "127.0.0.1:0",
        admin_scope: "gateway.admin",
        auth: { issuer: ISSUER, audience: AUDIENCE, jwks_uri: jwks.url },
      },
      file,
    ));
    admin = createClient(AdminService, createGrpcTransport({ baseUrl: listener.adminUrl ?? "" }));
  });
  afterAll(async () => {
    await listener?.close();
    await jwks?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (scope: string) => jwks.sign({ iss: ISSUER, aud: AUDIENCE, sub: "ops-alice", scope });
  const failure = async (call: Promise<unknown>) => {
    const err = await call.then(
      () => new Error("the call succeeded"),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  };

  it("refuses a call without a token as UNAUTHENTICATED", async () => {
    const err = await failure(admin.getSessions({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toContain("bearer token");
  });

  it("refuses a token without admin_scope as PERMISSION_DENIED naming the scope", async () => {
    const headers = { authorization: `Bearer ${await token("smack.read")}` };
    const err = await failure(admin.reload({}, { headers }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain('"gateway.admin"');
    expect(adminLines(lines).at(-1)).toMatchObject({
      rpc: "mcpengine.v1.AdminService/Reload",
      outcome: "PERMISSION_DENIED",
      subject: "ops-alice",
    });
  });

  it("tells buf curl without a token what is missing (reflection stays open)", async () => {
    const err = await promisify(execFile)(
      BUF,
      ["curl", `${listener.adminUrl}/mcpengine.v1.AdminService/GetSessions`],
      {
        timeout: 30_000,
      },
    ).then(
      () => undefined,
      (e: unknown) => e as { stderr?: string },
    );
    expect(err?.stderr).toContain("unauthenticated");
    expect(err?.stderr).toContain("the admin API needs a bearer token");
  });

  it("answers every RPC for a token carrying admin_scope, and logs its subject", async () => {
    const headers = { authorization: `Bearer ${await token("smack.read gateway.admin")}` };
    expect((await admin.listBackends({}, { headers })).backends).toHaveLength(1);
    expect((await admin.getCatalog({}, { headers })).tools.length).toBeGreaterThan(0);
    expect((await admin.getSessions({}, { headers })).sessions).toBe(0);
    expect((await admin.reload({}, { headers })).error).toBe("");
    expect(adminLines(lines).slice(-4)).toEqual(
      ["ListBackends", "GetCatalog", "GetSessions", "Reload"].map((m) =>
        expect.objectContaining({
          rpc: `mcpengine.v1.AdminService/${m}`,
          outcome: "ok",
          subject: "ops-alice",
        }),
      ),
    );
  });
});

describe.skipIf(!OPENSSL)("the admin API of a gateway with listener TLS", () => {
  let dir: string;
  let listener: GatewayListener;
  let ca: Buffer;

  beforeAll(async () => {
    const pki = makeTestPki();
    ca = pki.read(pki.ca);
    dir = mkdtempSync(join(tmpdir(), "mcpengine-admin-"));
    const file = join(dir, "image.binpb");
    writeFileSync(file, descriptorSet("smack/v1/smack.proto"));
    ({ listener } = await startGateway(
      { admin_listen: "127.0.0.1:0", tls: { cert: pki.serverCert, key: pki.serverKey } },
      file,
    ));
  });
  afterAll(async () => {
    await listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves gRPC over TLS with the listener's certificate", async () => {
    expect(listener.adminUrl).toMatch(/^https:\/\//);
    const admin = createClient(
      AdminService,
      createGrpcTransport({ baseUrl: listener.adminUrl ?? "", nodeOptions: { ca } }),
    );
    expect((await admin.listBackends({})).backends.map((b) => b.name)).toEqual(["smack"]);
  });

  it("serves the Connect protocol over HTTP/1.1 as well", async () => {
    const admin = createClient(
      AdminService,
      createConnectTransport({ baseUrl: listener.adminUrl ?? "", httpVersion: "1.1", nodeOptions: { ca } }),
    );
    expect((await admin.getSessions({})).sessions).toBe(0);
  });
});
