import type { IncomingMessage, ServerResponse } from "node:http";
import type { default as Provider } from "oidc-provider";
import { consentPage, errorPage, loginPage } from "./idp-pages.js";
import { checkPassword, DEMO_SCOPES, findUser } from "./users.js";

/** Largest form body read (a user name and a password). */
const MAX_FORM_BYTES = 16 * 1024;

/** The interaction routes: `/interaction/<uid>` and its `login`, `confirm` and `abort` posts. */
const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;

/**
 * The demo IdP's own login and consent steps (oidc-provider "User flows",
 * `interactions.url`): a user name and password checked against the demo users,
 * then a consent that grants each requested Smack scope the user may have and
 * rejects the others. A rejected scope counts as answered (the provider's
 * `rs_scopes_missing` check), so the login ends with a token that simply lacks
 * it: bob asking for `smack.write` gets a token with `smack.read` only.
 *
 * Returns false for a request that is not an interaction route.
 */
export function createInteractions(provider: Provider, resource: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://idp");
    const route = ROUTE.exec(url.pathname);
    if (!route) return false;
    const [, uid, step] = route;
    try {
      const interaction = await provider.interactionDetails(req, res);
      if (interaction.uid !== uid) {
        send(res, 400, errorPage("This page belongs to another login; use the newest link."));
        return true;
      }
      const client = await clientName(provider, interaction.params.client_id);
      const base = `/interaction/${interaction.uid}`;
      switch (step) {
        case undefined:
          if (req.method !== "GET") break;
          if (interaction.prompt.name === "login") {
            send(res, 200, loginPage({ action: `${base}/login`, client }));
          } else {
            const view = consentView(interaction.session?.accountId, interaction.params, resource);
            if (!view) throw new Error("no user is signed in for this consent");
            send(
              res,
              200,
              consentPage({ ...view, action: `${base}/confirm`, abort: `${base}/abort`, client }),
            );
          }
          return true;
        case "login": {
          if (req.method !== "POST" || interaction.prompt.name !== "login") break;
          const form = await readForm(req);
          const login = form.get("login")?.trim() ?? "";
          const user = checkPassword(login, form.get("password") ?? "");
          if (!user) {
            const error = "Wrong user name or password.";
            send(res, 200, loginPage({ action: `${base}/login`, client, login, error }));
            return true;
          }
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: user.login } },
            { mergeWithLastSubmission: false },
          );
          return true;
        }
        case "confirm": {
          if (req.method !== "POST" || interaction.prompt.name !== "consent") break;
          const grantId = await grantConsent(provider, interaction);
          await provider.interactionFinished(
            req,
            res,
            { consent: { grantId } },
            { mergeWithLastSubmission: true },
          );
          return true;
        }
        case "abort":
          if (req.method !== "POST") break;
          await provider.interactionFinished(
            req,
            res,
            { error: "access_denied", error_description: "the user denied the request" },
            { mergeWithLastSubmission: false },
          );
          return true;
      }
      send(res, 405, errorPage(`${req.method} is not what this page expects.`));
    } catch (err) {
      // Mostly an expired or already finished login (oidc-provider's SessionNotFound).
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) send(res, 400, errorPage("This login can no longer be completed.", message));
    }
    return true;
  };
}

type Details = Awaited<ReturnType<Provider["interactionDetails"]>>;

/**
 * Saves the grant of a consent: the OpenID scopes and claims asked for (`openid`,
 * `offline_access` for a refresh token), and for each resource the requested
 * scopes the user may have; the rest are recorded as rejected.
 */
async function grantConsent(provider: Provider, interaction: Details): Promise<string> {
  const accountId = interaction.session?.accountId;
  const user = accountId ? findUser(accountId) : undefined;
  const clientId = interaction.params.client_id;
  if (!user || typeof clientId !== "string") throw new Error("no user is signed in for this consent");
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId: user.login, clientId });
  const details = interaction.prompt.details;
  const scopes = strings(details.missingOIDCScope);
  if (scopes.length > 0) grant.addOIDCScope(scopes);
  const claims = strings(details.missingOIDCClaims);
  if (claims.length > 0) grant.addOIDCClaims(claims);
  const missing = details.missingResourceScopes;
  if (typeof missing === "object" && missing !== null) {
    for (const [indicator, asked] of Object.entries(missing)) {
      const wanted = strings(asked);
      const allowed = wanted.filter((s) => user.scopes.includes(s));
      const refused = wanted.filter((s) => !user.scopes.includes(s));
      if (allowed.length > 0) grant.addResourceScope(indicator, allowed);
      if (refused.length > 0) grant.rejectResourceScope(indicator, refused);
    }
  }
  return grant.save();
}

/** What the consent page lists: the Smack scopes asked for, split by whether this user may have them. */
function consentView(accountId: string | undefined, params: Details["params"], resource: string) {
  const user = accountId ? findUser(accountId) : undefined;
  if (!user) return undefined;
  const asked = typeof params.scope === "string" ? params.scope.split(" ") : [];
  const smack = asked.filter((s) => s in DEMO_SCOPES);
  return {
    user: { name: user.name, login: user.login },
    resource,
    granted: smack.filter((s) => user.scopes.includes(s)),
    refused: smack.filter((s) => !user.scopes.includes(s)),
    offline: asked.includes("offline_access"),
  };
}

/** The registered `client_name` of a client, else its id. */
async function clientName(provider: Provider, clientId: unknown): Promise<string> {
  if (typeof clientId !== "string") return "an application";
  const client = await provider.Client.find(clientId).catch(() => undefined);
  return client?.clientName ?? clientId;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_FORM_BYTES) throw new Error("the form is too large");
    chunks.push(buf);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The pages hold forms only: no scripts, no framing by other sites. No form-action: browsers
    // apply it to the redirects after a post too, and the last one goes to the app's callback.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(html);
}
