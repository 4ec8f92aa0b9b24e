import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose";
import Provider, { type ClientMetadata } from "oidc-provider";

/** A signing key of the test IdP, private and public forms. */
export interface IdpKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  publicJwk: JWK;
  privateJwk: JWK;
}

/** Makes an RS256 key pair with a key id. */
export async function makeKey(kid: string): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  return { kid, privateKey, publicJwk, privateJwk };
}

export const CLIENT = { id: "mcp-client", secret: "mcp-client-secret" };
export const GATEWAY_CLIENT = { id: "mcp-gateway", secret: "mcp-gateway-secret" };
export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** A pre-registered public native client for user logins (`interactive` IdPs only). */
export const LOGIN_CLIENT = { id: "mcp-login" };
/** A pre-registered confidential client for user logins (`interactive` IdPs only). */
export const LOGIN_CLIENT_CONFIDENTIAL = {
  id: "mcp-login-confidential",
  secret: "mcp-login-confidential-secret",
};

/** One request as the IdP understood it: the endpoint (oidc-provider route name) and its parameters. */
export interface IdpRequest {
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Scopes the IdP grants for any resource. */
const SCOPES = "smack.read smack.write inventory.read inventory.write";

/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1: client credentials,
 * JWT access tokens for resources (RFC 8707), opaque tokens for `opaqueAudience`,
 * introspection, and an RFC 8693 token-exchange grant. `rotate()` swaps the
 * signing keys without changing the issuer; `jwksFetches` counts JWKS reads.
 *
 * `interactive: true` adds user logins: the authorization code grant with PKCE,
 * refresh tokens (`offline_access`), token revocation (RFC 7009), the device
 * authorization grant (RFC 8628), oidc-provider's development login and consent
 * pages (any login and password), two pre-registered login clients, and a record
 * of the parameters of every request (`requests`) and of every authorization code
 * issued (`codesIssued`). See `browser-login.ts` for completing a login.
 */
export async function startIdp(opts: { opaqueAudience?: string; interactive?: boolean } = {}) {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state = {
    jwksFetches: 0,
    paths: [] as string[],
    requests: [] as IdpRequest[],
    codesIssued: 0,
    provider: undefined as Provider | undefined,
    key: await makeKey("key-1"),
  };

  const loginClients: ClientMetadata[] = opts.interactive
    ? [
        {
          client_id: LOGIN_CLIENT.id,
          application_type: "native",
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          redirect_uris: ["http://127.0.0.1/callback"],
          response_types: ["code"],
        },
        {
          client_id: LOGIN_CLIENT_CONFIDENTIAL.id,
          client_secret: LOGIN_CLIENT_CONFIDENTIAL.secret,
          application_type: "native",
          token_endpoint_auth_method: "client_secret_post",
          grant_types: ["authorization_code", "refresh_token"],
          redirect_uris: ["http://127.0.0.1/callback"],
          response_types: ["code"],
        },
      ]
    : [];

  const build = (key: IdpKey) => {
    const provider = new Provider(issuer, {
      clients: [
        ...loginClients,
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          grant_types: ["client_credentials"],
          redirect_uris: [],
          response_types: [],
          scope: SCOPES,
        },
        {
          client_id: GATEWAY_CLIENT.id,
          client_secret: GATEWAY_CLIENT.secret,
          grant_types: ["client_credentials", TOKEN_EXCHANGE],
          redirect_uris: [],
          response_types: [],
          scope: SCOPES,
        },
      ],
      jwks: { keys: [key.privateJwk] },
      // offline_access lets a login ask for a refresh token (and enables the refresh_token grant).
      scopes: [...SCOPES.split(" "), ...(opts.interactive ? ["offline_access"] : [])],
      ttl: { ClientCredentials: 600 },
      features: {
        devInteractions: { enabled: opts.interactive === true },
        revocation: { enabled: opts.interactive === true },
        deviceFlow: { enabled: opts.interactive === true },
        // Dynamic client registration (RFC 7591), as MCP clients such as mcp-remote use it.
        registration: { enabled: true },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        resourceIndicators: {
          enabled: true,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => ({
            scope: SCOPES,
            audience: resource,
            accessTokenTTL: 600,
            ...(resource === opts.opaqueAudience
              ? { accessTokenFormat: "opaque" }
              : { accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } }),
          }),
        },
      },
    });
    // RFC 8693: verify the subject token (our own JWT) and issue one for the requested audience.
    provider.registerGrantType(
      TOKEN_EXCHANGE,
      async (ctx: {
        oidc: { params: Record<string, string | undefined> };
        body: unknown;
        status: number;
      }) => {
        const params = ctx.oidc.params;
        const audience = params.audience ?? params.resource;
        try {
          const { payload } = await jwtVerify(
            params.subject_token ?? "",
            createLocalJWKSet({ keys: [key.publicJwk] }),
            {
              issuer,
            },
          );
          if (!audience) throw new Error("audience required");
          const token = await new SignJWT({
            scope: params.scope ?? payload.scope,
            client_id: payload.client_id,
            act: { sub: GATEWAY_CLIENT.id },
          })
            .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "at+jwt" })
            .setIssuer(issuer)
            .setSubject(String(payload.sub))
            .setAudience(audience)
            .setIssuedAt()
            .setExpirationTime("5m")
            .sign(key.privateKey);
          ctx.body = {
            access_token: token,
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
            token_type: "Bearer",
            expires_in: 300,
          };
        } catch (err) {
          ctx.status = 400;
          ctx.body = { error: "invalid_grant", error_description: (err as Error).message };
        }
      },
      ["subject_token", "subject_token_type", "requested_token_type", "audience", "resource", "scope"],
    );
    if (opts.interactive) {
      // Record each request as the IdP parsed it, so tests can check what a client sent.
      provider.use(async (ctx, next) => {
        await next();
        const oidc = (ctx as { oidc?: { route?: string; params?: Record<string, unknown>; body?: unknown } })
          .oidc;
        if (!oidc?.route) return;
        // Registration takes a JSON body (RFC 7591) rather than parameters; lists become space-separated.
        const source = oidc.route === "registration" ? oidc.body : oidc.params;
        const params: Record<string, string> = {};
        for (const [name, value] of Object.entries(typeof source === "object" && source ? source : {})) {
          if (typeof value === "string") params[name] = value;
          else if (Array.isArray(value)) params[name] = value.join(" ");
        }
        state.requests.push({ route: oidc.route, params });
      });
      provider.on("authorization.success", (_ctx: unknown, out: Record<string, unknown> | undefined) => {
        if (out?.code) state.codesIssued++;
      });
    }
    return provider;
  };

  state.provider = build(state.key);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/jwks")) state.jwksFetches++;
    state.paths.push(`${req.method} ${req.url?.split("?")[0]}`);
    const cb = state.provider?.callback();
    if (cb) void cb(req, res);
  });

  /** A client-credentials access token for `resource`. */
  async function token(resource: string, scope = "smack.read smack.write", client = CLIENT): Promise<string> {
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", resource, scope }),
    });
    const body = (await res.json()) as { access_token?: string; error_description?: string };
    if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  return {
    issuer,
    token,
    get key() {
      return state.key;
    },
    get jwksFetches() {
      return state.jwksFetches;
    },
    /** "METHOD /path" of every request the IdP has served. */
    get paths(): readonly string[] {
      return state.paths;
    },
    /** Each request's endpoint and parameters, in order (`interactive` IdPs only). */
    get requests(): readonly IdpRequest[] {
      return state.requests;
    },
    /** How many authorization codes the IdP has issued (`interactive` IdPs only). */
    get codesIssued(): number {
      return state.codesIssued;
    },
    /** Revokes a token (RFC 7009) on behalf of a public client. */
    async revoke(token: string, clientId: string): Promise<void> {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, client_id: clientId }),
      });
      if (!res.ok) throw new Error(`revocation failed: HTTP ${res.status} ${await res.text()}`);
    },
    /** Replaces the signing key (same issuer); returns the new key. */
    async rotate(kid: string): Promise<IdpKey> {
      state.key = await makeKey(kid);
      state.provider = build(state.key);
      return state.key;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type Idp = Awaited<ReturnType<typeof startIdp>>;
