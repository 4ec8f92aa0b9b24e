/**
 * A test client of the demo identity provider (src/demo/idp.ts), with no real
 * browser: it registers (RFC 7591), builds an authorization request with PKCE,
 * and walks the provider's own login and consent pages with fetch, a cookie jar
 * and the forms' actions, the way a browser would, until the redirect to the
 * client's callback. Then the code for tokens.
 */
import { createHash, randomBytes } from "node:crypto";
import { CookieJar } from "../support/browser-login.js";

/** A registered public native client, as `mcpengine proxy` registers itself. */
export interface TestClient {
  readonly clientId: string;
  readonly redirectUri: string;
}

export async function register(issuer: string, name = "test client"): Promise<TestClient> {
  const redirectUri = "http://127.0.0.1:9/callback";
  const res = await fetch(`${issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: name,
      application_type: "native",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  const body = (await res.json()) as { client_id?: string };
  if (res.status !== 201 || !body.client_id) throw new Error(`registration failed: ${JSON.stringify(body)}`);
  return { clientId: body.client_id, redirectUri };
}

/** One page of the walk: where it was, its status and its HTML. */
export interface Page {
  readonly url: URL;
  readonly status: number;
  readonly html: string;
}

/** A login under way in one "browser". */
export function startLogin(issuer: string, client: TestClient, params: { scope: string; resource?: string }) {
  const jar = new CookieJar();
  const verifier = randomBytes(32).toString("base64url");
  const authorize = new URL(`${issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: "code",
    redirect_uri: client.redirectUri,
    scope: params.scope,
    state: "s1",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...(params.resource ? { resource: params.resource } : {}),
    // OpenID Connect Core §11: offline_access is honoured with prompt=consent (as the proxy sends it).
    ...(params.scope.split(" ").includes("offline_access") ? { prompt: "consent" } : {}),
  }).toString();

  /** Follows redirects within the provider; a redirect elsewhere is the callback. */
  async function go(url: URL, init: RequestInit = {}): Promise<Page | { callback: URL }> {
    for (let step = 0; step < 10; step++) {
      if (url.origin !== new URL(issuer).origin) return { callback: url };
      const headers = new Headers(init.headers);
      const cookie = jar.header(url);
      if (cookie) headers.set("cookie", cookie);
      const res = await fetch(url, { ...init, headers, redirect: "manual" });
      jar.store(url, res);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        url = new URL(location, url);
        init = {};
        continue;
      }
      return { url, status: res.status, html: await res.text() };
    }
    throw new Error("too many redirects");
  }

  const post = (page: Page, action: string, fields: Record<string, string> = {}) =>
    go(new URL(action, page.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });

  return {
    /** Opens the authorization URL: the login page, or a redirect to the callback (an error). */
    open: () => go(authorize),
    /** Submits the login form of `page`. */
    logIn: (page: Page, login: string, password: string) =>
      post(page, formAction(page.html, "login"), { login, password }),
    /** Presses Allow (`confirm`) or Deny (`abort`) on the consent page. */
    answer: (page: Page, choice: "confirm" | "abort") => post(page, formAction(page.html, choice)),
    /** Redeems the code of a callback URL at the token endpoint. */
    async tokens(callback: URL): Promise<TokenResponse> {
      const code = callback.searchParams.get("code");
      if (!code) throw new Error(`no code in ${callback.href}`);
      return tokenRequest(issuer, {
        grant_type: "authorization_code",
        code,
        redirect_uri: client.redirectUri,
        client_id: client.clientId,
        code_verifier: verifier,
        ...(params.resource ? { resource: params.resource } : {}),
      });
    },
  };
}

/** The fields of a token response this test looks at. */
export interface TokenResponse {
  readonly access_token?: string;
  readonly refresh_token?: string;
  readonly scope?: string;
  readonly error?: string;
}

export async function tokenRequest(issuer: string, form: Record<string, string>): Promise<TokenResponse> {
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return (await res.json()) as TokenResponse;
}

/** The action of the form whose action ends with `/<step>`. */
function formAction(html: string, step: string): string {
  for (const m of html.matchAll(/<form\b[^>]*\baction="([^"]*)"/g)) {
    const action = (m[1] ?? "").replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
    if (action.endsWith(`/${step}`)) return action;
  }
  throw new Error(`no ${step} form on the page: ${html.slice(0, 300)}`);
}

/** Whether a step ended at the callback. */
export function isCallback(r: Page | { callback: URL }): r is { callback: URL } {
  return "callback" in r;
}
