/**
 * One interactive login, done once however many proxy processes need it: the
 * process that takes the login lock registers the client if it must, shows
 * the login link, waits for the browser at the loopback callback, redeems the
 * code and stores the tokens; the others wait for those tokens to appear.
 */
import { type CallbackVerdict, startCallbackServer } from "./callback.js";
import { pollDeviceAuthorization, startDeviceAuthorization } from "./device.js";
import type { Discovered } from "./discovery.js";
import { explain, OAuthClientError } from "./errors.js";
import { authorizationRequest, checkCallback, exchangeCode, type GrantContext } from "./flow.js";
import type { Http } from "./http.js";
import { lockOr } from "./lock.js";
import { type ClientSettings, chooseClient, registerClient } from "./registration.js";
import type { ClientRegistration, Store, StoredRecord, StoredTokens } from "./store.js";

/** Everything one login needs. */
export interface LoginPlan {
  readonly http: Http;
  readonly serverUrl: URL;
  readonly store: Store;
  readonly discovered: Discovered;
  readonly client: ClientSettings;
  /** The loopback port; default the port registered before, else a free one. */
  readonly callbackPort?: number;
  /** Send RFC 8707 `resource`. */
  readonly resource: boolean;
  /** Use the device authorization grant where the server has it. */
  readonly device: boolean;
  readonly scopes: readonly string[];
  /** How long the user has to log in. */
  readonly timeoutMs: number;
  readonly onLoginUrl: (url: URL) => void;
  readonly log: (message: string) => void;
  /** Whether tokens another process stored make this login unnecessary. */
  readonly satisfiedBy: (tokens: StoredTokens) => boolean;
}

/** A lock older than the longest login, plus a margin, belongs to a process that is gone. */
export const LOCK_STALE_MARGIN_MS = 60_000;

/** Logs in (or waits for another process's login) and returns the tokens now stored. */
export async function runLogin(plan: LoginPlan): Promise<StoredTokens> {
  const { as } = plan.discovered;
  const fresh = async () => {
    const record = await plan.store.read();
    return record?.issuer === as.issuer && record.tokens && plan.satisfiedBy(record.tokens)
      ? record.tokens
      : undefined;
  };
  const waited = await lockOr(plan.store.lockFile, fresh, {
    staleMs: plan.timeoutMs + LOCK_STALE_MARGIN_MS,
    // Another process's login, then possibly our own after it gave up.
    timeoutMs: 2 * plan.timeoutMs + LOCK_STALE_MARGIN_MS,
    onWait: (owner) =>
      plan.log(
        `another proxy${owner ? ` (pid ${owner.pid})` : ""} is logging in to ${plan.serverUrl.origin}; waiting for it`,
      ),
  });
  if (waited.kind === "done") return waited.value;
  try {
    // The holder before us may have finished between our last look and our taking the lock.
    const done = await fresh();
    if (done) return done;
    let record = await plan.store.read();
    if (record && record.issuer !== as.issuer) {
      plan.log(`${plan.serverUrl.origin} now uses ${as.issuer} (was ${record.issuer}): registering anew`);
      record = undefined;
    }
    const base: StoredRecord = {
      version: 1,
      server_url: plan.serverUrl.href,
      issuer: as.issuer,
      resource_metadata: plan.discovered.resourceMetadataUrl,
      ...(record?.client ? { client: record.client } : {}),
      ...(record?.tokens ? { tokens: record.tokens } : {}),
    };
    const { registration, tokens } =
      plan.device && as.device_authorization_endpoint !== undefined
        ? await deviceLogin(plan, base)
        : await browserLogin(plan, base);
    await plan.store.write({ ...base, client: persisted(registration), tokens });
    return tokens;
  } finally {
    await waited.lock.release();
  }
}

/** The authorization code grant: the browser comes back to the loopback callback. */
async function browserLogin(
  plan: LoginPlan,
  base: StoredRecord,
): Promise<{ registration: ClientRegistration; tokens: StoredTokens }> {
  const callback = await startCallbackServer(
    plan.callbackPort ?? registeredPort(base.client) ?? 0,
    plan.callbackPort === undefined,
  );
  try {
    const registration = await identity(plan, base, callback.redirectUri);
    const ctx = grantContext(plan, registration);
    const pending = await authorizationRequest(ctx, callback.redirectUri, plan.scopes);
    plan.onLoginUrl(pending.url);
    const tokens = await callback.wait(async (params): Promise<CallbackVerdict<StoredTokens>> => {
      let check: ReturnType<typeof checkCallback>;
      try {
        check = checkCallback(ctx, pending, params);
      } catch (err) {
        return { kind: "fail", message: `The login failed: ${explain(err)}`, error: err as Error };
      }
      if (check.kind === "foreign") {
        plan.log("ignored a redirect to the login callback that does not answer our request (state)");
        return { kind: "ignore", message: "This link does not belong to the login under way." };
      }
      try {
        return { kind: "done", value: await exchangeCode(ctx, pending, check.params) };
      } catch (err) {
        return { kind: "fail", message: "The login failed at the token endpoint.", error: err as Error };
      }
    }, plan.timeoutMs);
    return { registration, tokens };
  } finally {
    await callback.close();
  }
}

/** The device authorization grant: the user confirms a code on any device while we poll. */
async function deviceLogin(
  plan: LoginPlan,
  base: StoredRecord,
): Promise<{ registration: ClientRegistration; tokens: StoredTokens }> {
  // No callback here, but a registration needs a redirect URI: keep the one it has.
  const registration = await identity(plan, base, registeredRedirect(base.client) ?? LOOPBACK_REDIRECT);
  const ctx = grantContext(plan, registration);
  const pending = await startDeviceAuthorization(ctx, plan.scopes);
  plan.log(`to log in, open ${pending.url.href} and confirm the code ${pending.userCode}`);
  plan.onLoginUrl(pending.url);
  return { registration, tokens: await pollDeviceAuthorization(ctx, pending, Date.now() + plan.timeoutMs) };
}

function grantContext(plan: LoginPlan, registration: ClientRegistration): GrantContext {
  return {
    http: plan.http,
    as: plan.discovered.as,
    registration,
    ...(plan.resource ? { resource: plan.discovered.resource.resource } : {}),
  };
}

/** The client identity for this login; a new dynamic registration is stored at once. */
async function identity(
  plan: LoginPlan,
  base: StoredRecord,
  redirectUri: string,
): Promise<ClientRegistration> {
  const { as } = plan.discovered;
  const choice = chooseClient(as, plan.client, base.client, redirectUri);
  switch (choice.kind) {
    case "use":
      return choice.registration;
    case "register": {
      const registration = await registerClient(plan.http, as, redirectUri);
      plan.log(`registered at ${as.issuer} as client ${registration.client_id}`);
      // Stored now, so a login that fails later does not register once more; the tokens
      // in hand stay, bound to the client they were issued to.
      await plan.store.write({ ...base, client: registration });
      return registration;
    }
    case "none":
      throw new OAuthClientError("no_client", choice.reason);
  }
}

/** What of a registration goes to disk: a pre-registered client's secret stays in the user's settings. */
function persisted(registration: ClientRegistration): ClientRegistration {
  if (registration.kind !== "preregistered" || registration.client_secret === undefined) return registration;
  const { client_secret: _, ...rest } = registration;
  return rest;
}

/** A loopback redirect URI with no port, for registrations that will not use it (RFC 8252 §7.3). */
const LOOPBACK_REDIRECT = "http://127.0.0.1/callback";

/** The loopback redirect URI of a dynamic registration. */
function registeredRedirect(client: ClientRegistration | undefined): string | undefined {
  if (client?.kind !== "dynamic") return undefined;
  return client.redirect_uris?.find((uri) => /^http:\/\/127\.0\.0\.1(:\d+)?\/callback$/.test(uri));
}

/** The port of a dynamically registered loopback redirect URI, to listen there again. */
function registeredPort(client: ClientRegistration | undefined): number | undefined {
  const port = registeredRedirect(client)?.match(/:(\d+)\/callback$/)?.[1];
  return port === undefined ? undefined : Number(port);
}
