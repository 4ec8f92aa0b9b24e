import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { AdminService } from "../../gen/es/mcpengine/v1/admin_pb.js";
import { statusMapping } from "../invoke/index.js";
import type { Logger } from "../observe/index.js";
import { ADMIN_SUBJECT } from "./auth.js";

/** The message of an admin call's log line. */
export const ADMIN_CALL_MESSAGE = "admin call";

/**
 * The interceptor that logs each admin call once it is answered: `info` for
 * the AdminService RPCs, `debug` for server reflection (a `grpcurl` or
 * `buf curl` run makes several). Fields: `rpc` (`package.Service/Method`), `outcome`
 * (`ok` or the gRPC code name), `ms`, `subject` when a token was verified,
 * `error` (the message of a refusal or failure). It must run outside the auth
 * interceptor so refusals are logged too.
 */
export function logAdminCalls(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const start = performance.now();
    const admin = req.service.typeName === AdminService.typeName;
    const write = (outcome: string, error?: string) => {
      const subject = req.contextValues.get(ADMIN_SUBJECT);
      const line = {
        rpc: `${req.service.typeName}/${req.method.name}`,
        outcome,
        ms: Math.round((performance.now() - start) * 100) / 100,
        ...(subject !== undefined ? { subject } : {}),
        ...(error !== undefined ? { error } : {}),
      };
      if (admin) logger.info(line, ADMIN_CALL_MESSAGE);
      else logger.debug(line, ADMIN_CALL_MESSAGE);
    };
    try {
      const res = await next(req);
      write("ok");
      return res;
    } catch (err) {
      const e = ConnectError.from(err);
      write(statusMapping(e.code).name, e.rawMessage);
      throw err;
    }
  };
}
