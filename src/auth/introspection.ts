/**
 * RFC 7662 token introspection with client_secret_basic (RFC 6749 §2.3.1:
 * id and secret are form-urlencoded before base64).
 */
export async function introspect(
  fetchFn: typeof fetch,
  endpoint: string,
  clientId: string,
  clientSecret: string,
  token: string,
): Promise<{ claims: Record<string, unknown> } | { error: string }> {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
    "base64",
  );
  let res: Response;
  try {
    res = await fetchFn(endpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${basic}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return { error: "the token could not be introspected" };
  }
  if (!res.ok) return { error: "the token could not be introspected" };
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== "object" || body === null) return { error: "the token could not be introspected" };
  const claims = body as Record<string, unknown>;
  // RFC 7662 §2.2: only `active: true` means the token may be used.
  if (claims.active !== true) return { error: "the token is not active" };
  return { claims };
}
