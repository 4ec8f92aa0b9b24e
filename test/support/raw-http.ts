import { connect } from "node:net";

/**
 * Writes raw bytes on one TCP connection to `baseUrl`'s host and port, and
 * resolves with what came back once the server closes it (or after `ms`).
 */
export function rawExchange(
  baseUrl: string,
  bytes: string,
  ms = 3_000,
): Promise<{ text: string; closed: boolean; after: number }> {
  const { hostname, port } = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false, after: Date.now() - started });
    }, ms);
    socket.on("data", (d: Buffer) => {
      text += d.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true, after: Date.now() - started });
    });
    socket.write(bytes);
  });
}
