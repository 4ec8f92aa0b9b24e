import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { AuthResult, ResourceServer } from "../auth/index.js";

/** The verified caller of an admin call, for the log line; `undefined` while unknown or without auth. */
export const ADMIN_SUBJECT = createContextKey<string | undefined>(undefined, {
  description: "the subject of the admin call's bearer token",
});

/** What {@link judgeAdminCall} decided: admitted, or refused with a Connect code. */
export type AdminVerdict =
  | { readonly ok: true; readonly subject: string }
  | {
      readonly ok: false;
      readonly code: Code.Unauthenticated | Code.PermissionDenied;
      readonly message: string;
      /** The token's subject, when the token was valid but lacked the scope. */
      readonly subject?: string;
    };

/**
 * Decides an admin call from the resource server's verdict on its
 * `Authorization` header and the scope the admin API needs. No token, a
 * malformed header or a refused token is `UNAUTHENTICATED` (RFC 6750 §3.1
 * `invalid_request` / `invalid_token`, gRPC's code for "no valid
 * credentials"); a valid token without the scope is `PERMISSION_DENIED`
 * (`insufficient_scope`). Messages name what is missing and never quote the
 * token: the resource server's descriptions are fixed phrases.
 */
export function judgeAdminCall(result: AuthResult, scope: string): AdminVerdict {
  if (result.ok) {
    const subject = result.identity.subject;
    if (result.identity.scopes.has(scope)) return { ok: true, subject };
    return {
      ok: false,
      code: Code.PermissionDenied,
      message: `the token lacks the scope "${scope}" that the admin API needs`,
      subject,
    };
  }
  switch (result.error) {
    case "":
      return {
        ok: false,
        code: Code.Unauthenticated,
        message: `the admin API needs a bearer token: send "authorization: Bearer <token>" with the scope "${scope}"`,
      };
    case "invalid_request":
      return {
        ok: false,
        code: Code.Unauthenticated,
        message: `invalid authorization: ${result.description}`,
      };
    case "invalid_token":
      return {
        ok: false,
        code: Code.Unauthenticated,
        message: `invalid bearer token: ${result.description}`,
      };
    case "insufficient_scope":
      // The resource server never answers this to authenticate(); kept for exhaustiveness.
      return { ok: false, code: Code.PermissionDenied, message: result.description };
  }
}

/**
 * The interceptor that admits admin calls (every RPC on the admin listener,
 * reflection included) only with a bearer token verified by the gateway's
 * resource server and carrying `scope`. The subject goes into the call's
 * context values ({@link ADMIN_SUBJECT}) for the log line.
 */
export function adminAuth(auth: ResourceServer, scope: string): Interceptor {
  return (next) => async (req) => {
    const verdict = judgeAdminCall(
      await auth.authenticate(req.header.get("authorization") ?? undefined),
      scope,
    );
    if (verdict.subject !== undefined) req.contextValues.set(ADMIN_SUBJECT, verdict.subject);
    if (!verdict.ok) throw new ConnectError(verdict.message, verdict.code);
    return next(req);
  };
}
