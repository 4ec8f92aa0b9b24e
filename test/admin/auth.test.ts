import { type Client, Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ServerReflection } from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import { AdminService } from "../../gen/es/mcpengine/v1/admin_pb.js";
import { type AdminVerdict, judgeAdminCall } from "../../src/admin/auth.js";
import { ADMIN_CALL_MESSAGE, adminRoutes } from "../../src/admin/index.js";
import { type AuthResult, createResourceServer, type Identity } from "../../src/auth/index.js";
import { createLogger } from "../../src/observe/index.js";
import { fakeSource } from "./fake-source.js";

const SCOPE = "mcpengine.admin";

function identity(subject: string, scopes: string[]): AuthResult {
  const who: Identity = { subject, scopes: new Set(scopes), claims: {}, token: "t" };
  return { ok: true, identity: who };
}

function refusal(error: "" | "invalid_request" | "invalid_token", description: string): AuthResult {
  return {
    ok: false,
    status: error === "invalid_request" ? 400 : 401,
    wwwAuthenticate: "Bearer",
    error,
    description,
  };
}

describe("judgeAdminCall", () => {
  const cases: [string, AuthResult, AdminVerdict][] = [
    [
      "admits a token carrying the admin scope",
      identity("ops", ["read", SCOPE]),
      { ok: true, subject: "ops" },
    ],
    [
      "refuses a valid token without the scope as PERMISSION_DENIED naming the scope",
      identity("bob", ["read"]),
      {
        ok: false,
        code: Code.PermissionDenied,
        message: 'the token lacks the scope "mcpengine.admin" that the admin API needs',
        subject: "bob",
      },
    ],
    [
      "refuses a call without a token as UNAUTHENTICATED asking for a bearer token",
      refusal("", "no token"),
      {
        ok: false,
        code: Code.Unauthenticated,
        message:
          'the admin API needs a bearer token: send "authorization: Bearer <token>" with the scope "mcpengine.admin"',
      },
    ],
    [
      "refuses a malformed header as UNAUTHENTICATED",
      refusal("invalid_request", "malformed Authorization header"),
      {
        ok: false,
        code: Code.Unauthenticated,
        message: "invalid authorization: malformed Authorization header",
      },
    ],
    [
      "refuses a bad token as UNAUTHENTICATED with the reason",
      refusal("invalid_token", "the token has expired"),
      { ok: false, code: Code.Unauthenticated, message: "invalid bearer token: the token has expired" },
    ],
  ];
  it.each(cases)("%s", (_, result, verdict) => {
    expect(judgeAdminCall(result, SCOPE)).toEqual(verdict);
  });
});

describe("the admin API with auth", () => {
  const ISSUER = "https://idp.test";
  const AUDIENCE = "https://gateway.test/mcp";
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let jwks: unknown;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" }] };
    sign = (claims) =>
      new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "ops", ...claims })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
  });

  /** Admin and reflection clients over an in-memory transport, behind a real resource server (JWKS from memory). */
  function rig(scope = SCOPE) {
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const logger = createLogger({
      level: "debug",
      sink: {
        write: (l) => {
          raw.push(l);
          lines.push(JSON.parse(l));
        },
      },
    });
    const server = createResourceServer(
      {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: "https://idp.test/jwks",
        algorithms: ["RS256"],
        clockSkewSeconds: 60,
        requireTyp: false,
        scopeClaims: ["scope", "scp"],
        scopesSupported: [],
        cacheSize: 10,
        jwksCooldownMs: 30_000,
      },
      { fetch: async () => Response.json(jwks) },
    );
    const transport = createRouterTransport(
      adminRoutes({ source: fakeSource(), logger, auth: { server, scope } }),
    );
    const admin: Client<typeof AdminService> = createClient(AdminService, transport);
    return { admin, reflection: createClient(ServerReflection, transport), lines, raw };
  }

  async function refused(call: Promise<unknown>): Promise<ConnectError> {
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }

  it("refuses a call without a token as UNAUTHENTICATED", async () => {
    const { admin } = rig();
    const err = await refused(admin.listBackends({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toMatch(/needs a bearer token/);
  });

  it("refuses a forged token as UNAUTHENTICATED without quoting it", async () => {
    const { admin, raw } = rig();
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "eve", scope: SCOPE })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setExpirationTime("5m")
      .sign(privateKey);
    const err = await refused(admin.getSessions({}, { headers: { authorization: `Bearer ${forged}` } }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe("invalid bearer token: the token's signature is invalid");
    expect(raw.join("\n")).not.toContain(forged);
  });

  it("refuses a valid token without the admin scope as PERMISSION_DENIED, and logs who it was", async () => {
    const { admin, lines } = rig();
    const token = await sign({ scope: "smack.read" });
    const err = await refused(admin.reload({}, { headers: { authorization: `Bearer ${token}` } }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain('"mcpengine.admin"');
    expect(lines).toEqual([
      expect.objectContaining({
        msg: ADMIN_CALL_MESSAGE,
        level: "info",
        rpc: "mcpengine.v1.AdminService/Reload",
        outcome: "PERMISSION_DENIED",
        subject: "ops",
      }),
    ]);
  });

  it("admits a token carrying the admin scope, and logs the call with its subject", async () => {
    const { admin, lines, raw } = rig();
    const token = await sign({ scope: `smack.read ${SCOPE}` });
    const res = await admin.getCatalog({}, { headers: { authorization: `Bearer ${token}` } });
    expect(res.tools).toHaveLength(2);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: ADMIN_CALL_MESSAGE,
        rpc: "mcpengine.v1.AdminService/GetCatalog",
        outcome: "ok",
        subject: "ops",
      }),
    ]);
    expect(raw.join("\n")).not.toContain(token);
  });

  it("asks for the configured admin_scope, not the default one", async () => {
    const { admin } = rig("ops.gateway");
    const defaultScope = await sign({ scope: SCOPE });
    const err = await refused(
      admin.listBackends({}, { headers: { authorization: `Bearer ${defaultScope}` } }),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain('"ops.gateway"');
    const custom = await sign({ scp: ["ops.gateway"] });
    const res = await admin.listBackends({}, { headers: { authorization: `Bearer ${custom}` } });
    expect(res.backends).toHaveLength(2);
  });

  it("leaves server reflection open, logged at debug, while AdminService asks for a token", async () => {
    const { admin, reflection, lines } = rig();
    const ask = async function* () {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    };
    const names: string[] = [];
    for await (const res of reflection.serverReflectionInfo(ask())) {
      if (res.messageResponse.case === "listServicesResponse")
        names.push(...res.messageResponse.value.service.map((s) => s.name));
    }
    expect(names).toContain("mcpengine.v1.AdminService");
    expect(lines).toEqual([
      expect.objectContaining({
        level: "debug",
        msg: ADMIN_CALL_MESSAGE,
        rpc: "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        outcome: "ok",
      }),
    ]);
    const err = await refused(admin.getCatalog({}));
    expect(err.code).toBe(Code.Unauthenticated);
  });
});
