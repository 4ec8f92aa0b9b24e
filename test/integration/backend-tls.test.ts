import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addReflection } from "../../examples/shared/reflection.js";
import { InteropService } from "../../gen/es/mcpengine/interop/v1/interop_pb.js";
import { GetHTTPItemResponseSchema, InventoryService } from "../../gen/es/mcpengine/testing/v1/catalog_pb.js";
import { InteropServiceService } from "../../gen/grpc-js/mcpengine/interop/v1/interop.js";
import { parseConfig } from "../../src/config/index.js";
import { createGateway, type Gateway } from "../../src/gateway.js";
import type { HttpListener } from "../../src/http/index.js";
import { type BackendProtocol, type BackendTls, createBackendTransport } from "../../src/invoke/index.js";
import { makeTestPki, OPENSSL, type TestPki } from "../support/test-ca.js";

/**
 * The gateway towards backends that require a client certificate (mTLS), with
 * a throwaway CA made by `openssl`: a grpc-js backend (reflection and calls),
 * and a Connect-node one for the Connect and gRPC-Web protocols.
 */
describe.skipIf(!OPENSSL)(
  OPENSSL ? "backends behind mTLS" : "backends behind mTLS (skipped: no openssl on PATH to make a test CA)",
  () => {
    let pki: TestPki;
    let grpcJs: Server;
    let grpcUrl: string;
    /** `x-team` metadata of each call the grpc-js backend served, by method path. */
    const seen: { path: string; team: string | undefined }[] = [];
    let connectServer: Http2SecureServer;
    let connectUrl: string;

    beforeAll(async () => {
      pki = makeTestPki();
      grpcJs = new Server({
        interceptors: [
          (descriptor, call) =>
            new ServerInterceptingCall(call, {
              start: (next) =>
                next({
                  onReceiveMetadata: (metadata: Metadata, forward) => {
                    seen.push({ path: descriptor.path, team: metadata.get("x-team")[0]?.toString() });
                    forward(metadata);
                  },
                }),
            }),
        ],
      });
      grpcJs.addService(InteropServiceService, {
        echo(call: ServerUnaryCall<{ record?: unknown }, unknown>, callback: sendUnaryData<unknown>) {
          callback(null, { record: call.request.record });
        },
        repeat(call: { end(): void }) {
          call.end();
        },
      });
      addReflection(grpcJs, ["mcpengine.interop.v1.InteropService"]);
      const credentials = ServerCredentials.createSsl(
        pki.read(pki.ca),
        [{ cert_chain: pki.read(pki.serverCert), private_key: pki.read(pki.serverKey) }],
        true,
      );
      const port = await new Promise<number>((resolve, reject) =>
        grpcJs.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))),
      );
      grpcUrl = `https://127.0.0.1:${port}`;

      connectServer = createSecureServer(
        {
          allowHTTP1: true,
          key: pki.read(pki.serverKey),
          cert: pki.read(pki.serverCert),
          ca: pki.read(pki.ca),
          requestCert: true,
          rejectUnauthorized: true,
        },
        connectNodeAdapter({
          routes: (r) =>
            r.service(InventoryService, {
              getHTTPItem: (req) => create(GetHTTPItemResponseSchema, { item: { sku: req.sku } }),
            }),
        }),
      );
      await new Promise<void>((resolve) => connectServer.listen(0, "127.0.0.1", resolve));
      connectUrl = `https://127.0.0.1:${(connectServer.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      grpcJs?.forceShutdown();
      await new Promise<void>((resolve) =>
        connectServer ? connectServer.close(() => resolve()) : resolve(),
      );
    });

    const echo = InteropService.method.echo;
    const mtls = (): BackendTls => ({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });

    async function callError(
      tls: BackendTls | undefined,
      target = grpcUrl,
      protocol: BackendProtocol = "grpc",
    ): Promise<ConnectError> {
      const t = createBackendTransport({ target, name: "secure", protocol, tls });
      try {
        const err = await (protocol === "grpc"
          ? t.unary(echo, undefined, 5_000, undefined, { record: { text: "x" } })
          : t.unary(InventoryService.method.getHTTPItem, undefined, 5_000, undefined, { sku: "x" })
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectError);
        return err as ConnectError;
      } finally {
        t.close();
      }
    }

    describe("the gateway", () => {
      let gateway: Gateway | undefined;
      let http: HttpListener | undefined;
      let client: Client | undefined;
      afterAll(async () => {
        await client?.close();
        await http?.close();
        await gateway?.close();
      });

      it("loads a backend's descriptors and calls its tools over mTLS, with tls: files from the environment", async () => {
        const config = parseConfig(
          `
listen: "127.0.0.1:0"
backends:
  - name: secure
    target: "${grpcUrl}"
    tls:
      ca: "\${PKI}/ca.crt"
      cert: "\${PKI}/client.crt"
      key: "\${PKI}/client.key"
      server_name: backend.test
    headers:
      x-team: "\${TEAM}"
`,
          { env: { PKI: pki.dir, TEAM: "payments" } },
        );
        expect(config.backends[0]?.tls).toEqual({
          ca: pki.ca,
          cert: pki.clientCert,
          key: pki.clientKey,
          serverName: "backend.test",
        });
        gateway = await createGateway(config);
        expect(gateway.backends()).toEqual([{ name: "secure", target: grpcUrl, tools: 2, ready: true }]);
        http = await gateway.listen();
        client = new Client({ name: "mtls-test", version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
        const result = await client.callTool({ name: "echo", arguments: { record: { text: "over mTLS" } } });
        expect(result.isError).toBeFalsy();
        expect(result.structuredContent).toEqual({ record: expect.objectContaining({ text: "over mTLS" }) });
        // The static metadata went with the reflection stream and with the call.
        expect(seen).toContainEqual({
          path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          team: "payments",
        });
        expect(seen).toContainEqual({ path: "/mcpengine.interop.v1.InteropService/Echo", team: "payments" });
      });

      it("reports a backend it cannot reach without a client certificate as not ready, naming the TLS cause", async () => {
        const config = parseConfig(
          JSON.stringify({
            listen: "127.0.0.1:0",
            backends: [{ name: "secure", target: grpcUrl, tls: { ca: pki.ca } }],
          }),
        );
        const g = await createGateway(config, { retryMs: 60_000 });
        try {
          expect(g.backends()).toEqual([
            {
              name: "secure",
              target: grpcUrl,
              tools: 0,
              ready: false,
              error: expect.stringMatching(/certificate required/),
            },
          ]);
        } finally {
          await g.close();
        }
      });
    });

    it("fails a call without a client certificate with UNAVAILABLE naming the backend and the TLS cause", async () => {
      const err = await callError({ ca: pki.ca });
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toBe(
        `cannot connect to backend "secure" (${grpcUrl}): TLS: tlsv13 alert certificate required (the backend requires a client certificate: set tls.cert and tls.key)`,
      );
    });

    it.each<[string, () => BackendTls | undefined, string]>([
      [
        "no tls.ca: the backend's CA is not trusted",
        () => ({ cert: pki.clientCert, key: pki.clientKey }),
        "TLS: self-signed certificate in certificate chain (the backend's certificate is not signed by a CA the gateway trusts: set tls.ca)",
      ],
      [
        "a server_name the certificate does not hold",
        () => ({ ...mtls(), serverName: "other.test" }),
        "TLS: Host: other.test. is not in the cert's altnames: DNS:backend.test, DNS:localhost, IP Address:127.0.0.1 (the backend's certificate is not for this host: set tls.server_name to a name it holds)",
      ],
      [
        "a client certificate from a CA the backend does not trust",
        () => ({ ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey }),
        // Node reports no TLS alert here (the backend just closes the connection): the message says what it looks like.
        "the backend closed the connection after the TLS handshake, before its HTTP/2 SETTINGS (does it accept the client certificate, tls.cert?)",
      ],
    ])("says which setting to change: %s", async (_, tls, cause) => {
      const err = await callError(tls());
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toBe(`cannot connect to backend "secure" (${grpcUrl}): ${cause}`);
    });

    it.each<BackendProtocol>(["connect", "grpc-web"])(
      "reaches a %s backend over mTLS, and is refused without the client certificate",
      async (protocol) => {
        const t = createBackendTransport({ target: connectUrl, name: "web", protocol, tls: mtls() });
        try {
          const res = await t.unary(InventoryService.method.getHTTPItem, undefined, 5_000, undefined, {
            sku: "A",
          });
          expect(res.message.item?.sku).toBe("A");
        } finally {
          t.close();
        }
        const err = await callError({ ca: pki.ca }, connectUrl, protocol);
        expect(err.message).toMatch(/certificate|socket hang up|ECONNRESET/i);
      },
    );
  },
);
