import { constants } from "node:os";

/** Operator messages of the gateway, on stderr. */
export function stderrLog(message: string): void {
  process.stderr.write(`mcpengine: ${message}\n`);
}

/** The signals that ask the gateway to stop. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** Resolves with the first SIGINT or SIGTERM so the caller can shut down gracefully. */
export function waitForSignal(): Promise<StopSignal> {
  return new Promise((resolve) => {
    const unlisten = onSignal((signal) => {
      unlisten();
      resolve(signal);
    });
  });
}

/**
 * Calls `handler` on every SIGINT or SIGTERM until the returned function is
 * called. While a listener is installed Node does not stop the process on
 * these signals; the handler decides.
 */
export function onSignal(handler: (signal: StopSignal) => void): () => void {
  const int = () => handler("SIGINT");
  const term = () => handler("SIGTERM");
  process.on("SIGINT", int);
  process.on("SIGTERM", term);
  return () => {
    process.off("SIGINT", int);
    process.off("SIGTERM", term);
  };
}

/** The exit code of a process stopped by `signal` without finishing its work: 128 + its number (130, 143). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** Calls `handler` on every SIGHUP (re-read the configuration) until the returned function is called. */
export function onReloadSignal(handler: () => void): () => void {
  process.on("SIGHUP", handler);
  return () => process.off("SIGHUP", handler);
}
