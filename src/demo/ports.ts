import { type AddressInfo, createServer } from "node:net";
import { type DemoPart, PART_NAME, PORT_FLAG } from "./settings.js";

/** Why the demo could not have its ports: stable codes to switch on. */
export type DemoErrorCode = "port_in_use" | "port_clash";

/** A port problem, with a message that names the port and the option that moves it. */
export class DemoError extends Error {
  override readonly name = "DemoError";
  constructor(
    readonly code: DemoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** `port` on `host`, meant for `part`, is taken by something else. */
export function portInUse(part: DemoPart, host: string, port: number): DemoError {
  return new DemoError(
    "port_in_use",
    `port ${port} on ${host} (${PART_NAME[part]}) is already in use; ` +
      `stop what listens there or pick another port with ${PORT_FLAG[part]} <port> (0 picks a free one)`,
  );
}

/** Two parts were given the same port. */
export function portClash(a: DemoPart, b: DemoPart, port: number): DemoError {
  return new DemoError(
    "port_clash",
    `${PORT_FLAG[a]} and ${PORT_FLAG[b]} are both ${port}; give each part its own port`,
  );
}

/** Whether `err` is Node's (or grpc-js's wrapped) "address already in use". */
export function isAddressInUse(err: unknown): boolean {
  if (typeof err === "object" && err !== null && "code" in err && err.code === "EADDRINUSE") return true;
  return err instanceof Error && /EADDRINUSE|address already in use/i.test(err.message);
}

/**
 * Binds `host:port` for a moment: resolves with the port bound (the one the
 * system chose when `port` is 0), or rejects with a {@link DemoError} `port_in_use`.
 * Checking before starting anything turns a taken port into one clear message
 * instead of a failed child process; a port taken in the instant between the
 * check and the child's own bind is still reported by the child.
 */
export function probePort(part: DemoPart, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err) => reject(isAddressInUse(err) ? portInUse(part, host, port) : err));
    server.listen({ port, host, exclusive: true }, () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
