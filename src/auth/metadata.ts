const WELL_KNOWN = "/.well-known/oauth-protected-resource";

/**
 * Where the Protected Resource Metadata of `resource` lives: the well-known
 * path inserted between host and the resource's path (RFC 9728 §3.1), on
 * `baseUrl` (the gateway's public origin).
 */
export function metadataLocation(resource: string, baseUrl: string): { url: string; paths: string[] } {
  const path = new URL(resource).pathname.replace(/\/+$/, "");
  const inserted = `${WELL_KNOWN}${path}`;
  const paths = path === "" ? [WELL_KNOWN] : [inserted, WELL_KNOWN];
  return { url: `${new URL(baseUrl).origin}${inserted}`, paths };
}

/** The RFC 9728 §2 metadata document of this resource server. */
export function metadataDocument(opts: {
  resource: string;
  issuer: string;
  scopesSupported: readonly string[];
  resourceName?: string | undefined;
}): Record<string, unknown> {
  return {
    resource: opts.resource,
    authorization_servers: [opts.issuer],
    ...(opts.scopesSupported.length > 0 ? { scopes_supported: [...opts.scopesSupported] } : {}),
    bearer_methods_supported: ["header"],
    ...(opts.resourceName ? { resource_name: opts.resourceName } : {}),
  };
}
