import type { ConnectRouter } from "@connectrpc/connect";
import { AdminService } from "../../gen/es/mcpengine/v1/admin_pb.js";
import type { ResourceServer } from "../auth/index.js";
import type { Logger } from "../observe/index.js";
import { adminAuth } from "./auth.js";
import { logAdminCalls } from "./log.js";
import { addReflection } from "./reflection.js";
import { createAdminService } from "./service.js";
import type { AdminSource } from "./source.js";

/** What the admin API serves, and who may call it. */
export interface AdminApiOptions {
  /** What the RPCs read and do (the gateway). */
  readonly source: AdminSource;
  /** Where each call is logged (`admin call`); redaction is the logger's. */
  readonly logger: Logger;
  /** Bearer-token admission; absent, every call is admitted (bind the listener to an internal address). */
  readonly auth?: { readonly server: ResourceServer; readonly scope: string };
}

/**
 * The routes of the admin listener, for `connectNodeAdapter` or
 * `createRouterTransport`: `mcpengine.v1.AdminService` behind logging
 * (outermost, so refusals are logged too) and auth; gRPC server reflection
 * (v1, v1alpha) behind logging only. Reflection stays open on purpose: it
 * describes nothing but AdminService's schema, which is public (proto/), and
 * guarding it would turn `buf curl`'s clear UNAUTHENTICATED into "failed to
 * find service".
 */
export function adminRoutes(options: AdminApiOptions): (router: ConnectRouter) => void {
  const { auth } = options;
  const log = logAdminCalls(options.logger);
  // Connect applies the last interceptor innermost.
  const interceptors = [log, ...(auth ? [adminAuth(auth.server, auth.scope)] : [])];
  return (router) => {
    router.service(AdminService, createAdminService(options.source), { interceptors });
    addReflection(router, [AdminService], { interceptors: [log] });
  };
}
