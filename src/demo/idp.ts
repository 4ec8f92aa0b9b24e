import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { errors } from "oidc-provider";
import { createInteractions } from "./idp-interactions.js";
import { errorPage, landingPage } from "./idp-pages.js";
import { createIdpStore } from "./idp-store.js";
import { DEMO_SCOPES, findUser } from "./users.js";

/** Options of {@link startDemoIdp}. */
export interface DemoIdpOptions {
  /** Port on `host`; 0 picks a free one. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /**
   * The gateway's MCP endpoint: the one resource (RFC 8707) tokens are issued
   * for, and their audience, as the gateway's `auth.audience` expects.
   */
  readonly resource: string;
  /** Keeps client registrations between runs (see idp-store.ts); in memory only when absent. */
  readonly clientsFile?: string;
  /** Lifetime of access tokens in seconds. Default 900. */
  readonly accessTokenTtl?: number;
}

/** A running demo identity provider. */
export interface DemoIdp {
  /** Issuer identifier, `http://host:port`. */
  readonly issuer: string;
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60;

/**
 * The demo's OpenID provider, on `oidc-provider`: its own login and consent
 * pages for the demo users (users.ts), the authorization code grant with PKCE,
 * refresh tokens (`offline_access`), JWT access tokens (RFC 9068) for the
 * gateway's resource only (RFC 8707, the default resource when a client names
 * none), open dynamic client registration (RFC 7591) and Client ID Metadata
 * Documents (an https `client_id`, fetched by the provider). Signing keys are
 * made at start: tokens of an earlier run are refused.
 *
 * For development only: users and passwords are fixed and public, and nothing
 * but client registrations outlives the process.
 */
export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  const host = options.host ?? "127.0.0.1";
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const provider = createProvider(issuer, options, await signingKey());
  const interactions = createInteractions(provider, options.resource);
  const oidc = provider.callback();

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (req.method === "GET" && (req.url === "/" || req.url === "")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(landingPage(issuer, options.resource));
        return;
      }
      if (await interactions(req, res)) return;
      await oidc(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A fresh RS256 key for this run (the algorithm every MCP client and our gateway accept). */
async function signingKey() {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `demo-${randomBytes(6).toString("base64url")}`;
  return { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
}

function createProvider(issuer: string, options: DemoIdpOptions, key: object): Provider {
  const resource = options.resource;
  const ttl = options.accessTokenTtl ?? 900;
  const provider = new Provider(issuer, {
    adapter: createIdpStore(options.clientsFile),
    jwks: { keys: [key] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    // OpenID scopes only: smack.read and smack.write belong to the resource (below), which lets
    // the consent grant or reject them one by one. Hosts learn them from the gateway's metadata.
    scopes: ["openid", "offline_access", "profile"],
    claims: { openid: ["sub"], profile: ["name", "preferred_username"] },
    async findAccount(_ctx, id) {
      const user = findUser(id);
      if (!user) return undefined;
      return {
        accountId: user.login,
        claims: async () => ({ sub: user.login, name: user.name, preferred_username: user.login }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: ttl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * DAY,
      Grant: 14 * DAY,
      RefreshToken: 14 * DAY,
    },
    // Browser-based clients (the MCP Inspector's own OAuth) call the token endpoint from a page.
    clientBasedCORS: () => true,
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      clientIdMetadataDocument: { enabled: true, ack: "draft-02" },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (indicator !== resource) {
            throw new errors.InvalidTarget(`this provider issues tokens for ${resource} only`);
          }
          return {
            scope: Object.keys(DEMO_SCOPES).join(" "),
            audience: resource,
            accessTokenTTL: ttl,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = "html";
      ctx.body = errorPage(
        typeof out.error_description === "string" ? out.error_description : "The request was refused.",
        typeof out.error === "string" ? out.error : undefined,
      );
    },
  });
  return provider;
}
