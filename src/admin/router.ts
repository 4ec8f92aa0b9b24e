import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
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

/** The admin API's routes and interceptors, for `connectNodeAdapter` or `createRouterTransport`. */
export interface AdminRouter {
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
}

/**
 * The routes of the admin listener: `mcpengine.v1.AdminService` and gRPC
 * server reflection (v1, v1alpha), behind the same interceptors — logging
 * outermost, so refused calls are logged, then auth.
 */
export function adminRouter(options: AdminApiOptions): AdminRouter {
  const { auth } = options;
  return {
    routes: (router) => {
      router.service(AdminService, createAdminService(options.source));
      addReflection(router, [AdminService]);
    },
    // Connect applies the last interceptor innermost.
    interceptors: [logAdminCalls(options.logger), ...(auth ? [adminAuth(auth.server, auth.scope)] : [])],
  };
}
