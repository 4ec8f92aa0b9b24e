/**
 * RFC 7662 token introspection with client_secret_basic (RFC 6749 §2.3.1:
 * id and secret are form-urlencoded before base64). The token's claims when
 * it is active; `error` when the endpoint judged it (not active); `failure`,
 * with its cause, when the endpoint could not judge it (unreachable, an error
 * status, not a JSON object): the token is then refused unjudged.
 */
export async function introspect(
  fetchFn: typeof fetch,
  endpoint: string,
  clientId: string,
  clientSecret: string,
  token: string,
): Promise<{ claims: Record<string, unknown> } | { error: string } | { failure: Error }> {
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
  } catch (err) {
    return { failure: new Error(`${endpoint}: ${describe(err)}`, { cause: err }) };
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    return { failure: new Error(`${endpoint}: HTTP ${res.status}`) };
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { failure: new Error(`${endpoint}: the answer is not a JSON object`) };
  }
  const claims = body as Record<string, unknown>;
  // RFC 7662 §2.2: only `active: true` means the token may be used.
  if (claims.active !== true) return { error: "the token is not active" };
  return { claims };
}

/** A fetch failure with its cause (undici says only "fetch failed"; the cause names the socket error). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : "";
  return `${err.message}${cause}`;
}
