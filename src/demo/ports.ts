import { type AddressInfo, createServer } from "node:net";
import { type DemoPart, PART_NAME, PORT_FLAG } from "./settings.js";

/**
 * A port the demo cannot listen on because something else does. Its message
 * names the port, whose it was to be, and the option that moves it.
 */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  readonly code = "port_in_use";
  constructor(
    readonly part: DemoPart,
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `port ${port} on ${host} (${PART_NAME[part]}) is already in use; ` +
        `stop what listens there or pick another port with ${PORT_FLAG[part]} <port> (0 picks a free one)`,
    );
  }
}

/** Whether `err` is Node's (or grpc-js's wrapped) "address already in use". */
export function isAddressInUse(err: unknown): boolean {
  if (typeof err === "object" && err !== null && "code" in err && err.code === "EADDRINUSE") return true;
  return err instanceof Error && /EADDRINUSE|address already in use/i.test(err.message);
}

/**
 * Binds `host:port` for a moment: resolves with the port bound (the one the
 * system chose when `port` is 0), or rejects with {@link PortInUseError}.
 * Checking before starting anything turns a taken port into one clear message
 * instead of a failed child process; a port taken in the instant between the
 * check and the child's own bind is still reported by the child.
 */
export function probePort(part: DemoPart, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err) => reject(isAddressInUse(err) ? new PortInUseError(part, host, port) : err));
    server.listen({ port, host, exclusive: true }, () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
