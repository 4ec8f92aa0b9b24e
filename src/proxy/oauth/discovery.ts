/**
 * Finding the authorization server of an MCP server (MCP authorization,
 * "Authorization Server Discovery"): the protected resource metadata
 * (RFC 9728), then the first authorization server's metadata (RFC 8414 or
 * OpenID Connect Discovery 1.0), each checked against what we asked for.
 */
import {
  type AuthorizationServer,
  discoveryRequest,
  processDiscoveryResponse,
  processResourceDiscoveryResponse,
  type ResourceServer,
  resourceDiscoveryRequest,
} from "oauth4webapi";
import { explain, OAuthClientError } from "./errors.js";
import { getJson, type Http, parseUrl, requestOptions } from "./http.js";

/** What discovery found for one MCP server. */
export interface Discovered {
  /** Where the protected resource metadata was read. */
  readonly resourceMetadataUrl: string;
  /** The protected resource metadata; `resource` is the canonical server URI (RFC 8707). */
  readonly resource: ResourceServer;
  /** The metadata of the first authorization server it names. */
  readonly as: AuthorizationServer;
}

/** One place to look for metadata, and how to ask for it. */
export type MetadataCandidate =
  | { readonly kind: "url"; readonly url: URL }
  | { readonly kind: "well-known"; readonly identifier: URL }
  | { readonly kind: "oauth2"; readonly issuer: URL }
  | { readonly kind: "oidc"; readonly issuer: URL }
  | { readonly kind: "oidc-inserted"; readonly issuer: URL };

/**
 * Where to look for the protected resource metadata, in the MCP spec's order:
 * the challenge's `resource_metadata`, then the well-known URI with the
 * server's path inserted, then the well-known URI at the root (RFC 9728 §3.1).
 */
export function resourceMetadataCandidates(serverUrl: URL, hint?: string): MetadataCandidate[] {
  const out: MetadataCandidate[] = [];
  const fromHint = hint ? parseUrl(hint) : undefined;
  if (fromHint && (fromHint.protocol === "https:" || fromHint.protocol === "http:")) {
    out.push({ kind: "url", url: fromHint });
  }
  const server = new URL(serverUrl.href);
  server.search = "";
  server.hash = "";
  if (server.pathname !== "/") out.push({ kind: "well-known", identifier: server });
  out.push({ kind: "well-known", identifier: new URL("/", server) });
  return out;
}

/**
 * Where to look for the authorization server metadata, in the MCP spec's order:
 * for an issuer with a path, RFC 8414 with the path inserted, OIDC with the path
 * inserted, OIDC with the path appended; for one without, RFC 8414 then OIDC.
 */
export function authorizationServerCandidates(issuer: URL): MetadataCandidate[] {
  if (issuer.pathname === "/" || issuer.pathname === "") {
    return [
      { kind: "oauth2", issuer },
      { kind: "oidc", issuer },
    ];
  }
  return [
    { kind: "oauth2", issuer },
    { kind: "oidc-inserted", issuer },
    { kind: "oidc", issuer },
  ];
}

/**
 * Whether protected resource metadata for `resource` may serve `serverUrl`:
 * the same URL, or a parent of it on the same origin (a server whose
 * resource identifier is its origin). Anything else could be another
 * resource's metadata and is refused (RFC 9728 §3.3, §7.3).
 */
export function resourceCovers(resource: string, serverUrl: URL): boolean {
  const r = parseUrl(resource);
  if (!r || r.search || r.hash || r.origin !== serverUrl.origin) return false;
  const base = r.pathname.replace(/\/+$/, "");
  const path = serverUrl.pathname.replace(/\/+$/, "");
  return path === base || path.startsWith(`${base}/`);
}

/** Reads the protected resource metadata of `serverUrl`; `hint` is the challenge's `resource_metadata`. */
export async function discoverResource(
  http: Http,
  serverUrl: URL,
  hint?: string,
): Promise<{ url: string; metadata: ResourceServer }> {
  const failures: string[] = [];
  let mismatch: string | undefined;
  for (const candidate of resourceMetadataCandidates(serverUrl, hint)) {
    let response: Response;
    let url: string;
    try {
      switch (candidate.kind) {
        case "url":
          url = candidate.url.href;
          response = await getJson(http, candidate.url);
          break;
        case "well-known":
          url = wellKnownUrl(candidate.identifier);
          response = await resourceDiscoveryRequest(candidate.identifier, requestOptions(http, serverUrl));
          break;
        default:
          continue;
      }
    } catch (err) {
      failures.push(`${candidate.kind}: ${explain(err)}`);
      continue;
    }
    if (response.status !== 200) {
      failures.push(`${url}: HTTP ${response.status}`);
      await response.body?.cancel();
      continue;
    }
    // Peek at `resource` to decide which identifier to hold the document to, then
    // let oauth4webapi validate the document against it.
    const claimed = await peekResource(response);
    if (claimed !== undefined && !resourceCovers(claimed, serverUrl)) {
      // Perhaps another resource's metadata on the same host: note it and look further.
      mismatch = `the protected resource metadata at ${url} is for ${claimed}, not ${serverUrl.href}`;
      await response.body?.cancel();
      continue;
    }
    let metadata: ResourceServer;
    try {
      metadata = await processResourceDiscoveryResponse(new URL(claimed ?? serverUrl), response);
    } catch (err) {
      failures.push(`${url}: ${explain(err)}`);
      continue;
    }
    if (!metadata.authorization_servers?.length) {
      failures.push(`${url}: no authorization_servers`);
      continue;
    }
    return { url, metadata };
  }
  if (mismatch) throw new OAuthClientError("resource_mismatch", mismatch);
  throw new OAuthClientError(
    "discovery_failed",
    `no protected resource metadata for ${serverUrl.href} (${failures.join("; ")})`,
  );
}

/** Reads the metadata of the authorization server `issuer`, its `issuer` checked to be exactly that. */
export async function discoverAuthorizationServer(http: Http, issuer: string): Promise<AuthorizationServer> {
  const expected = parseUrl(issuer);
  if (!expected) throw new OAuthClientError("discovery_failed", `"${issuer}" is not an issuer URL`);
  const options = requestOptions<"GET", undefined>(http, expected);
  const failures: string[] = [];
  for (const candidate of authorizationServerCandidates(expected)) {
    try {
      let response: Response;
      switch (candidate.kind) {
        case "oauth2":
          response = await discoveryRequest(candidate.issuer, { ...options, algorithm: "oauth2" });
          break;
        case "oidc":
          response = await discoveryRequest(candidate.issuer, { ...options, algorithm: "oidc" });
          break;
        case "oidc-inserted":
          // OIDC Discovery with the path inserted, as RFC 8414 §5 allows; oauth4webapi builds
          // only the appended form, so we build the URL and let it process the answer.
          response = await getJson(http, insertWellKnown(candidate.issuer, "openid-configuration"));
          break;
        default:
          continue;
      }
      if (response.status !== 200) {
        failures.push(`${candidate.kind}: HTTP ${response.status}`);
        await response.body?.cancel();
        continue;
      }
      return await processDiscoveryResponse(expected, response);
    } catch (err) {
      failures.push(`${candidate.kind}: ${explain(err)}`);
    }
  }
  throw new OAuthClientError(
    "discovery_failed",
    `no authorization server metadata for ${issuer} (${failures.join("; ")})`,
  );
}

/** Protected resource metadata, then the first authorization server's metadata (RFC 9728 §7.6). */
export async function discover(http: Http, serverUrl: URL, hint?: string): Promise<Discovered> {
  const { url, metadata } = await discoverResource(http, serverUrl, hint);
  const [issuer] = metadata.authorization_servers ?? [];
  if (!issuer) throw new OAuthClientError("discovery_failed", `${url} names no authorization server`);
  return {
    resourceMetadataUrl: url,
    resource: metadata,
    as: await discoverAuthorizationServer(http, issuer),
  };
}

function wellKnownUrl(identifier: URL): string {
  return insertWellKnown(identifier, "oauth-protected-resource").href;
}

/** `https://host/.well-known/<name>/<path>` (RFC 8414 §3.1, RFC 9728 §3.1). */
function insertWellKnown(identifier: URL, name: string): URL {
  const path = identifier.pathname.replace(/\/+$/, "");
  return new URL(`/.well-known/${name}${path}`, identifier);
}

async function peekResource(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = await response.clone().json();
    if (
      typeof body === "object" &&
      body !== null &&
      "resource" in body &&
      typeof body.resource === "string"
    ) {
      return body.resource;
    }
  } catch {
    // Not JSON: oauth4webapi will say so.
  }
  return undefined;
}

/** Discovery shared by a client's callers. */
export interface DiscoveryCache {
  /** The discovered metadata: once per process, again after a failure. */
  get(): Promise<Discovered>;
  /** A challenge's `resource_metadata`: a new one means discovering again. */
  hint(resourceMetadata: string | undefined): void;
  /** Forgets what was found, so the next `get` reads the metadata afresh. */
  forget(): void;
}

/** Caches {@link discover} for `serverUrl`; `remembered` gives the metadata URL a login stored. */
export function discoveryCache(
  http: Http,
  serverUrl: URL,
  remembered: () => Promise<string | undefined>,
): DiscoveryCache {
  let hinted: string | undefined;
  let current: Promise<Discovered> | undefined;
  return {
    get() {
      if (!current) {
        const attempt = remembered().then((stored) => discover(http, serverUrl, hinted ?? stored));
        current = attempt;
        attempt.catch(() => {
          if (current === attempt) current = undefined;
        });
      }
      return current;
    },
    hint(resourceMetadata) {
      if (resourceMetadata && resourceMetadata !== hinted) {
        hinted = resourceMetadata;
        current = undefined;
      }
    },
    forget() {
      current = undefined;
    },
  };
}
