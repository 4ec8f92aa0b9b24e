/**
 * A programmatic browser for tests: it follows an authorization URL through
 * oidc-provider's development login and consent pages (`startIdp({ interactive: true })`)
 * the way a user's browser would — redirects by hand, cookies kept in a jar,
 * forms submitted — until the IdP redirects to the client's loopback callback.
 * No real browser: fetch and a few regular expressions over oidc-provider's own pages.
 */

/** Cookies per host and path (RFC 6265 §5.3, the parts a test IdP needs). */
export class CookieJar {
  readonly #cookies = new Map<string, { host: string; path: string; name: string; value: string }>();

  /** Stores the `Set-Cookie` headers of a response to `url`. */
  store(url: URL, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((p) => p.trim());
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = "/";
      let expired = false;
      for (const attribute of attributes) {
        const [key = "", val = ""] = attribute.split("=", 2);
        switch (key.toLowerCase()) {
          case "path":
            path = val || "/";
            break;
          case "max-age":
            expired ||= Number(val) <= 0;
            break;
          case "expires":
            expired ||= Date.parse(val) <= Date.now();
            break;
        }
      }
      const key = `${url.host} ${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { host: url.host, path, name, value });
    }
  }

  /** The `Cookie` header for a request to `url`, if any cookie applies. */
  header(url: URL): string | undefined {
    const sent = [...this.#cookies.values()].filter(
      (c) =>
        c.host === url.host &&
        (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`)),
    );
    return sent.length > 0 ? sent.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }
}

/** How to complete a login. */
export interface BrowserLoginOptions {
  /** The account typed into the login form (oidc-provider's dev pages take any). Default "user". */
  readonly login?: string;
  /** Reuse a jar to keep the IdP session between logins (single sign-on); default a fresh one. */
  readonly jar?: CookieJar;
  /** Open the callback URL like a browser would (default true), or only return it. */
  readonly deliver?: boolean;
}

/** Where the IdP sent the browser in the end, and what the callback answered. */
export interface BrowserLoginResult {
  /** The redirect to the client's callback (`code`, `state`, `iss` or `error`). */
  readonly callback: URL;
  /** The callback's answer, when it was delivered. */
  readonly status?: number;
  readonly body?: string;
}

const MAX_STEPS = 20;

/** Follows `authorizationUrl` through login and consent to the client's callback. */
export async function completeLogin(
  authorizationUrl: URL,
  options: BrowserLoginOptions = {},
): Promise<BrowserLoginResult> {
  const end = await browse(authorizationUrl, options);
  if (end.kind !== "left") throw new Error(`the login ended on an IdP page: ${end.text.slice(0, 300)}`);
  const callback = end.url;
  if (options.deliver === false) return { callback };
  const res = await fetch(callback, { redirect: "manual" });
  return { callback, status: res.status, body: await res.text() };
}

/**
 * Follows a device verification link (RFC 8628 `verification_uri_complete`)
 * through code confirmation, login and consent; returns the text of the IdP's
 * final page.
 */
export async function completeDeviceLogin(
  verificationUrl: URL,
  options: BrowserLoginOptions = {},
): Promise<string> {
  const end = await browse(verificationUrl, options);
  if (end.kind !== "page") throw new Error(`the device login left the IdP for ${end.url.href}`);
  return end.text;
}

/** Where browsing ended: the IdP sent the browser elsewhere, or showed a page with no form. */
type End = { kind: "left"; url: URL } | { kind: "page"; text: string };

async function browse(start: URL, options: BrowserLoginOptions): Promise<End> {
  const jar = options.jar ?? new CookieJar();
  const idp = start.origin;
  let url = start;
  let init: RequestInit = { method: "GET" };
  for (let step = 0; step < MAX_STEPS; step++) {
    // The IdP redirected away from itself: this is the client's redirect URI.
    if (url.origin !== idp) return { kind: "left", url };
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    jar.store(url, res);
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      init = { method: "GET" };
      continue;
    }
    const html = await res.text();
    if (!res.ok) throw new Error(`the IdP answered HTTP ${res.status}: ${text(html).slice(0, 500)}`);
    const form = parseForm(html);
    if (!form) return { kind: "page", text: text(html) };
    const body = new URLSearchParams(form.fields);
    if (body.get("prompt") === "login") {
      body.set("login", options.login ?? "user");
      body.set("password", "any password");
    }
    url = new URL(form.action, url);
    init = {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    };
  }
  throw new Error(`no end after ${MAX_STEPS} steps (last at ${url.href})`);
}

/** The first POST form of a page: its action and its hidden fields. */
function parseForm(html: string): { action: string; fields: [string, string][] } | undefined {
  const form = /<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const fields: [string, string][] = [];
  for (const input of (form[2] ?? "").matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(input[0])?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(input[0])?.[1];
    if (name && /\btype="hidden"/i.test(input[0]))
      fields.push([decodeEntities(name), decodeEntities(value ?? "")]);
  }
  return { action: decodeEntities(form[1] ?? ""), fields };
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}
