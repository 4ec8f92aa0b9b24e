/**
 * The client's identity at an authorization server, chosen in the order of MCP
 * authorization, "Client Registration": a pre-registered client, else a Client
 * ID Metadata Document where the server supports them, else dynamic client
 * registration (RFC 7591) as a native app with a loopback redirect (RFC 8252).
 */
import {
  type AuthorizationServer,
  type Client,
  type ClientAuth,
  ClientSecretPost,
  dynamicClientRegistrationRequest,
  None,
  processDynamicClientRegistrationResponse,
} from "oauth4webapi";
import { explain, OAuthClientError } from "./errors.js";
import { type Http, requestOptions } from "./http.js";
import type { ClientRegistration, TokenEndpointAuth } from "./store.js";

/** The client settings the user gave (each a `mcpengine proxy` flag). */
export interface ClientSettings {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Default: `client_secret_basic` if the server supports it, else `client_secret_post`; `none` without a secret. */
  readonly tokenEndpointAuth?: TokenEndpointAuth;
  /** An https URL serving this client's metadata document, used as its `client_id`. */
  readonly clientMetadataUrl?: string;
}

/** What to do about the client's identity. */
export type ClientChoice =
  | { readonly kind: "use"; readonly registration: ClientRegistration }
  | { readonly kind: "register" }
  | { readonly kind: "none"; readonly reason: string };

/** The device authorization grant's type (RFC 8628 §3.4). */
export const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

/** The name the client registers under, shown on consent pages. */
export const CLIENT_NAME = "MCPEngine proxy";

/**
 * Chooses the client identity for a login whose redirect URI is `redirectUri`.
 * `stored` is a registration made earlier at the same authorization server.
 */
export function chooseClient(
  as: AuthorizationServer,
  settings: ClientSettings,
  stored: ClientRegistration | undefined,
  redirectUri: string,
  now = Date.now(),
): ClientChoice {
  if (settings.clientId) {
    const method =
      settings.tokenEndpointAuth ?? (settings.clientSecret ? secretMethod(as) : ("none" as const));
    return {
      kind: "use",
      registration: {
        kind: "preregistered",
        client_id: settings.clientId,
        ...(settings.clientSecret && method !== "none" ? { client_secret: settings.clientSecret } : {}),
        token_endpoint_auth_method: method,
      },
    };
  }
  if (settings.clientMetadataUrl && as.client_id_metadata_document_supported === true) {
    return {
      kind: "use",
      registration: {
        kind: "metadata-document",
        client_id: settings.clientMetadataUrl,
        token_endpoint_auth_method: "none",
      },
    };
  }
  if (
    stored?.kind === "dynamic" &&
    stored.redirect_uris?.includes(redirectUri) &&
    !(stored.client_secret_expires_at && stored.client_secret_expires_at * 1000 <= now)
  ) {
    return { kind: "use", registration: stored };
  }
  if (as.registration_endpoint) return { kind: "register" };
  return {
    kind: "none",
    reason:
      `${as.issuer} offers no dynamic client registration` +
      (settings.clientMetadataUrl ? " and no Client ID Metadata Documents" : "") +
      ": register a client there and pass --client-id (and --client-secret)",
  };
}

/** RFC 8414 §2: without a list, the server supports `client_secret_basic`. */
function secretMethod(as: AuthorizationServer): TokenEndpointAuth {
  const supported = as.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  return supported.includes("client_secret_basic") || !supported.includes("client_secret_post")
    ? "client_secret_basic"
    : "client_secret_post";
}

/** The RFC 7591 metadata of a public native client with one loopback redirect URI. */
export function registrationMetadata(as: AuthorizationServer, redirectUri: string): Partial<Client> {
  // Ask for refresh tokens unless the server says it has none to give; for the device
  // grant where the server has it, so one registration serves both ways of logging in.
  const refresh = as.grant_types_supported?.includes("refresh_token") ?? true;
  const device = as.grant_types_supported?.includes(DEVICE_CODE) === true;
  return {
    client_name: CLIENT_NAME,
    application_type: "native",
    redirect_uris: [redirectUri],
    grant_types: [
      "authorization_code",
      ...(refresh ? ["refresh_token"] : []),
      ...(device ? [DEVICE_CODE] : []),
    ],
    response_types: ["code"],
    // A native app cannot keep a secret (RFC 8252 §8.4); PKCE protects its codes.
    token_endpoint_auth_method: "none",
  };
}

/** Registers a client (RFC 7591). */
export async function registerClient(
  http: Http,
  as: AuthorizationServer,
  redirectUri: string,
): Promise<ClientRegistration> {
  let body: Awaited<ReturnType<typeof processDynamicClientRegistrationResponse>>;
  try {
    const response = await dynamicClientRegistrationRequest(
      as,
      registrationMetadata(as, redirectUri),
      requestOptions(http, as.issuer),
    );
    body = await processDynamicClientRegistrationResponse(await withSecretExpiry(response));
  } catch (err) {
    throw new OAuthClientError(
      "registration_failed",
      `registration at ${as.issuer} failed: ${explain(err)}`,
      {
        cause: err,
      },
    );
  }
  const secret = typeof body.client_secret === "string" ? body.client_secret : undefined;
  const asked = body.token_endpoint_auth_method;
  const method: TokenEndpointAuth =
    asked === "client_secret_basic" || asked === "client_secret_post" || asked === "none"
      ? asked
      : secret
        ? "client_secret_basic"
        : "none";
  const uris = Array.isArray(body.redirect_uris)
    ? body.redirect_uris.filter((u): u is string => typeof u === "string")
    : [redirectUri];
  return {
    kind: "dynamic",
    client_id: body.client_id,
    ...(secret ? { client_secret: secret } : {}),
    token_endpoint_auth_method: method,
    redirect_uris: uris,
    ...(typeof body.client_secret_expires_at === "number"
      ? { client_secret_expires_at: body.client_secret_expires_at }
      : {}),
  };
}

/**
 * RFC 7591 §3.2.1 requires `client_secret_expires_at` with an issued secret, 0
 * meaning it never expires. Authorization servers that leave it out are common
 * (the MCP SDKs read it as optional), so an answer with a secret and no expiry
 * is read as a secret that does not expire instead of a failed registration:
 * the field is set to 0 before oauth4webapi checks the rest.
 */
export async function withSecretExpiry(response: Response): Promise<Response> {
  if (response.status !== 201) return response;
  let body: unknown;
  try {
    body = await response.clone().json();
  } catch {
    return response; // not JSON: oauth4webapi says so
  }
  if (
    typeof body !== "object" ||
    body === null ||
    typeof (body as { client_secret?: unknown }).client_secret !== "string" ||
    (body as { client_secret_expires_at?: unknown }).client_secret_expires_at !== undefined
  ) {
    return response;
  }
  return new Response(JSON.stringify({ ...body, client_secret_expires_at: 0 }), {
    status: response.status,
    headers: response.headers,
  });
}

/**
 * `client_secret_basic` (RFC 6749 §2.3.1): the id and the secret each
 * application/x-www-form-urlencoded, joined by a colon, in Base64. The encoding
 * is the WHATWG form serializer's, which leaves `*-._` as they are: ids such as
 * `my-client` go out unchanged, so servers that skip the decoding step still
 * recognise them, while `:`, spaces and non-ASCII are escaped as the RFC asks.
 */
export function clientSecretBasic(clientSecret: string): ClientAuth {
  return (_as, client, _body, headers) => {
    const encode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1);
    const credentials = `${encode(client.client_id)}:${encode(clientSecret)}`;
    headers.set("authorization", `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`);
  };
}

/** The oauth4webapi client of a registration. */
export function oauthClient(registration: ClientRegistration): Client {
  return { client_id: registration.client_id };
}

/** The oauth4webapi client authentication of a registration (RFC 6749 §2.3). */
export function clientAuth(registration: ClientRegistration): ClientAuth {
  switch (registration.token_endpoint_auth_method) {
    case "client_secret_basic":
      return clientSecretBasic(requireSecret(registration));
    case "client_secret_post":
      return ClientSecretPost(requireSecret(registration));
    case "none":
      return None();
  }
}

function requireSecret(registration: ClientRegistration): string {
  if (!registration.client_secret) {
    throw new OAuthClientError(
      "no_client",
      `client ${registration.client_id} uses ${registration.token_endpoint_auth_method} but has no secret`,
    );
  }
  return registration.client_secret;
}
