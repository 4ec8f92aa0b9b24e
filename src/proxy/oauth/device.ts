/**
 * The device authorization grant (RFC 8628): for a proxy whose user is not at
 * a browser on this machine. The user opens the link anywhere and confirms
 * the code shown; meanwhile the proxy polls the token endpoint.
 */
import {
  deviceAuthorizationRequest,
  deviceCodeGrantRequest,
  processDeviceAuthorizationResponse,
  processDeviceCodeResponse,
  ResponseBodyError,
} from "oauth4webapi";
import { explain, OAuthClientError } from "./errors.js";
import { type GrantContext, isBrowsable, resourceParameter, storedTokens } from "./flow.js";
import { parseUrl, requestOptions } from "./http.js";
import { clientAuth, oauthClient } from "./registration.js";
import type { StoredTokens } from "./store.js";

/** A device authorization under way. */
export interface DeviceAuthorization {
  /** Where the user goes: `verification_uri_complete`, else `verification_uri`. */
  readonly url: URL;
  readonly userCode: string;
  readonly deviceCode: string;
  /** Seconds between polls. */
  readonly interval: number;
  /** When the device code expires, epoch milliseconds. */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
}

/** Asks for a device and user code (RFC 8628 §3.1, with RFC 8707 `resource`). */
export async function startDeviceAuthorization(
  ctx: GrantContext,
  scopes: readonly string[],
): Promise<DeviceAuthorization> {
  const params: Record<string, string> = {};
  if (scopes.length > 0) params.scope = scopes.join(" ");
  if (ctx.resource) params.resource = ctx.resource;
  let body: Awaited<ReturnType<typeof processDeviceAuthorizationResponse>>;
  try {
    const response = await deviceAuthorizationRequest(
      ctx.as,
      oauthClient(ctx.registration),
      clientAuth(ctx.registration),
      params,
      requestOptions(ctx.http, ctx.as.issuer),
    );
    body = await processDeviceAuthorizationResponse(ctx.as, oauthClient(ctx.registration), response);
  } catch (err) {
    throw new OAuthClientError("token_request_failed", `the device authorization failed: ${explain(err)}`, {
      cause: err,
    });
  }
  // The link is opened in a browser: only http(s), never a scheme the AS slipped in.
  const url = parseUrl(body.verification_uri_complete ?? body.verification_uri);
  if (!url || !isBrowsable(url)) {
    throw new OAuthClientError("token_request_failed", `${ctx.as.issuer} gave an unusable verification URI`);
  }
  return {
    url,
    userCode: body.user_code,
    deviceCode: body.device_code,
    interval: body.interval ?? 5,
    expiresAt: Date.now() + body.expires_in * 1000,
    scopes: [...scopes],
  };
}

/**
 * Polls the token endpoint until the user has confirmed (RFC 8628 §3.4, §3.5):
 * `authorization_pending` waits, `slow_down` waits 5 s longer each time.
 */
export async function pollDeviceAuthorization(
  ctx: GrantContext,
  device: DeviceAuthorization,
  deadline: number,
): Promise<StoredTokens> {
  let interval = device.interval;
  for (;;) {
    if (Date.now() + interval * 1000 > Math.min(deadline, device.expiresAt)) {
      throw new OAuthClientError("login_timeout", "nobody confirmed the device code in time");
    }
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
    try {
      const response = await deviceCodeGrantRequest(
        ctx.as,
        oauthClient(ctx.registration),
        clientAuth(ctx.registration),
        device.deviceCode,
        { ...requestOptions(ctx.http, ctx.as.issuer), ...resourceParameter(ctx) },
      );
      const body = await processDeviceCodeResponse(ctx.as, oauthClient(ctx.registration), response);
      return storedTokens(
        body,
        ctx.registration.client_id,
        device.scopes.length > 0 ? { scope: device.scopes.join(" ") } : undefined,
      );
    } catch (err) {
      const code = err instanceof ResponseBodyError ? err.error : undefined;
      switch (code) {
        case "authorization_pending":
          continue;
        case "slow_down":
          interval += 5;
          continue;
        case "access_denied":
          throw new OAuthClientError("authorization_denied", "the user refused the device login", {
            cause: err,
          });
        case "expired_token":
          throw new OAuthClientError("login_timeout", "the device code expired", { cause: err });
        default:
          throw new OAuthClientError("token_request_failed", `the device login failed: ${explain(err)}`, {
            cause: err,
          });
      }
    }
  }
}
