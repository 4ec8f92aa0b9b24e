import { DEMO_SCOPES, DEMO_USERS } from "./users.js";

/**
 * The pages of the demo's identity provider, as HTML strings: the login form,
 * the consent page, a landing page and an error page. Plain forms and inline
 * CSS with system fonts: no script, nothing fetched from elsewhere, so they
 * look the same offline and in a headless browser's screenshots.
 */

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #dfe3ea; --accent: #3b5bdb; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f3f5f9;
    font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); }
  main { width: min(420px, calc(100vw - 32px)); margin: 32px 0; background: #fff; border: 1px solid var(--line);
    border-radius: 12px; padding: 28px 28px 24px; box-shadow: 0 8px 24px rgba(29, 35, 48, 0.08); }
  .brand { font-size: 13px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase; color: var(--accent); }
  h1 { font-size: 22px; margin: 4px 0 4px; }
  p { margin: 0 0 16px; color: var(--muted); }
  label { display: block; font-weight: 600; font-size: 14px; margin: 12px 0 4px; }
  input { width: 100%; padding: 9px 11px; font: inherit; border: 1px solid #c5ccd8; border-radius: 8px; }
  input:focus { outline: 2px solid var(--accent); outline-offset: 1px; border-color: var(--accent); }
  .actions { display: flex; gap: 10px; margin-top: 20px; }
  button { flex: 1; padding: 10px 14px; font: inherit; font-weight: 600; border-radius: 8px; cursor: pointer;
    border: 1px solid var(--accent); background: var(--accent); color: #fff; }
  button.secondary { background: #fff; color: var(--ink); border-color: #c5ccd8; }
  .error { background: #fdecec; color: #a61b1b; border: 1px solid #f5c2c2; border-radius: 8px; padding: 8px 12px; }
  .hint { margin-top: 22px; padding-top: 14px; border-top: 1px solid var(--line); font-size: 13px; color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  td { padding: 2px 8px 2px 0; vertical-align: top; }
  code { font: 13px ui-monospace, SFMono-Regular, Menlo, "DejaVu Sans Mono", monospace; }
  ul.scopes { list-style: none; padding: 0; margin: 0 0 8px; border: 1px solid var(--line); border-radius: 8px; }
  ul.scopes li { padding: 10px 12px; border-top: 1px solid var(--line); display: grid;
    grid-template-columns: 22px 1fr; column-gap: 6px; }
  ul.scopes li:first-child { border-top: 0; }
  .mark { font-weight: 700; color: #2b8a3e; }
  .refused .mark { color: #a61b1b; }
  .refused { color: var(--muted); }
  small { display: block; color: var(--muted); }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
<div class="brand">Smack demo · identity provider</div>
${body}
</main></body>
</html>
`;
}

/** The demo users and their passwords, as the login page lists them. */
function usersHint(): string {
  const rows = DEMO_USERS.map(
    (u) =>
      `<tr><td><code>${escapeHtml(u.login)}</code></td><td><code>${escapeHtml(u.password)}</code></td><td>${escapeHtml(u.role)}</td></tr>`,
  ).join("");
  return `<div class="hint">Demo users (user name, password):<table>${rows}</table></div>`;
}

/** What the login form shows. */
export interface LoginView {
  /** Where the form posts. */
  readonly action: string;
  /** The application asking (its registered `client_name`, else its client id). */
  readonly client: string;
  readonly login?: string;
  readonly error?: string;
}

/** The login form: user name and password. */
export function loginPage(view: LoginView): string {
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : "";
  return page(
    "Sign in · Smack demo",
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(view.client)}</strong></p>
${error}
<form method="post" action="${escapeHtml(view.action)}" autocomplete="off">
<label for="login">User name</label>
<input id="login" name="login" value="${escapeHtml(view.login ?? "")}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<div class="actions"><button type="submit">Sign in</button></div>
</form>
${usersHint()}`,
  );
}

/** What the consent page shows. */
export interface ConsentView {
  /** Where "Allow" posts; "Deny" posts to `abort`. */
  readonly action: string;
  readonly abort: string;
  readonly client: string;
  /** The user signed in: their name and login. */
  readonly user: { readonly name: string; readonly login: string };
  /** The resource the token is for (the gateway's MCP URL). */
  readonly resource: string;
  readonly granted: readonly string[];
  /** Scopes asked for that this user may not have. */
  readonly refused: readonly string[];
  /** Whether the application asked to stay signed in (`offline_access`: a refresh token). */
  readonly offline: boolean;
}

/** The consent page: who asks, for which resource, which scopes are granted and which are not. */
export function consentPage(view: ConsentView): string {
  const item = (scope: string, ok: boolean) =>
    `<li${ok ? "" : ' class="refused"'}><span class="mark">${ok ? "✓" : "✗"}</span><span><code>${escapeHtml(scope)}</code>` +
    `<small>${escapeHtml(ok ? (DEMO_SCOPES[scope] ?? "") : `Not allowed for ${view.user.login}: left out of the token`)}</small></span></li>`;
  const items = [
    ...view.granted.map((s) => item(s, true)),
    ...view.refused.map((s) => item(s, false)),
    ...(view.offline
      ? [
          `<li><span class="mark">✓</span><span>Stay signed in<small>A refresh token, so you are not asked again soon</small></span></li>`,
        ]
      : []),
  ];
  const list = items.length > 0 ? `<ul class="scopes">${items.join("")}</ul>` : "<p>No Smack scopes.</p>";
  return page(
    "Authorize · Smack demo",
    `<h1>Authorize</h1>
<p><strong>${escapeHtml(view.client)}</strong> asks to use <strong>Smack</strong> as
<strong>${escapeHtml(view.user.name)}</strong> (<code>${escapeHtml(view.user.login)}</code>).</p>
<p>Resource: <code>${escapeHtml(view.resource)}</code></p>
${list}
<div class="actions">
<button type="submit" form="deny" class="secondary">Deny</button>
<button type="submit" form="allow">Allow</button>
</div>
<form id="allow" method="post" action="${escapeHtml(view.action)}"></form>
<form id="deny" method="post" action="${escapeHtml(view.abort)}"></form>`,
  );
}

/** The issuer's own page: what this server is, and who can log in. */
export function landingPage(issuer: string, resource: string): string {
  return page(
    "Smack demo identity provider",
    `<h1>Identity provider</h1>
<p>An OpenID provider for the Smack demo. It issues access tokens for <code>${escapeHtml(resource)}</code>;
hosts reach it through <code>mcpengine proxy</code>, which opens its login page for you.</p>
<p>Metadata: <code>${escapeHtml(issuer)}/.well-known/openid-configuration</code></p>
${usersHint()}`,
  );
}

/** A failure the user can read, with the OAuth error code for whoever debugs it. */
export function errorPage(message: string, code?: string): string {
  return page(
    "Error · Smack demo",
    `<h1>Something went wrong</h1>
<p class="error" role="alert">${escapeHtml(message)}</p>
${code ? `<p><code>${escapeHtml(code)}</code></p>` : ""}
<p>Start again from your application (for a host, call one of its tools again for a new link).</p>`,
  );
}
