/** Operator messages of the gateway, on stderr. */
export function stderrLog(message: string): void {
  process.stderr.write(`mcpengine: ${message}\n`);
}

/** Resolves on SIGINT or SIGTERM so the caller can shut down gracefully. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
