import { connect } from "node:net";
import type { CheckResult } from "./readiness.js";

/** How long a probe waits for the TCP handshake (default of {@link tcpProbe}). */
export const CONNECT_TIMEOUT_MS = 1_000;

/**
 * Whether a backend could be reached now: a TCP connection to its target's
 * host and port (80/443 by default), closed as soon as it is up. Cheaper than
 * an RPC and independent of the backend's services; it proves the address
 * answers, not that the service behind it is healthy.
 */
export function tcpProbe(target: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<CheckResult> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return Promise.resolve({ ok: false, detail: `${target} is not a URL` });
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  const where = `${url.hostname}:${port}`;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: CheckResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => done({ ok: false, detail: `no TCP connection to ${where} within ${timeoutMs} ms` }),
      timeoutMs,
    );
    timer.unref();
    socket.once("connect", () => done({ ok: true, detail: `${where} accepts connections` }));
    socket.once("error", (err: NodeJS.ErrnoException) =>
      done({ ok: false, detail: `cannot connect to ${where}: ${err.code ?? err.message}` }),
    );
  });
}
