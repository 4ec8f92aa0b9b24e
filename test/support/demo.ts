import { spawn } from "node:child_process";

/** `mcpengine demo` running on embedded defaults, and how to stop it. */
export interface Demo {
  /** The MCP endpoint, as the demo prints it. */
  readonly url: string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `bin demo --port 0` (PGlite, no DATABASE_URL) and waits for its MCP endpoint. */
export async function startDemo(bin: string): Promise<Demo> {
  const child = spawn(process.execPath, [bin, "demo", "--port", "0"], {
    env: { ...process.env, DATABASE_URL: "" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const stop = () => {
    child.kill("SIGINT");
    return exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = "";
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${err}`)), 30_000);
      child.stderr?.on("data", (chunk: Buffer) => {
        err += chunk.toString();
        const m = /MCP gateway on (\S+)/.exec(err);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
