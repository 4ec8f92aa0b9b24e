import { spawn } from "node:child_process";

/** `mcpengine demo` running on embedded defaults, and how to stop it. */
export interface Demo {
  /** The MCP endpoint, as the demo prints it. */
  readonly url: string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `bin demo --port 0 --idp-port 0 --no-auth` (PGlite, no DATABASE_URL, no login) and
 * waits for the banner, which names the MCP endpoint once every part is ready.
 */
export async function startDemo(bin: string): Promise<Demo> {
  const child = spawn(process.execPath, [bin, "demo", "--port", "0", "--idp-port", "0", "--no-auth"], {
    env: { ...process.env, DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const stop = () => {
    child.kill("SIGINT");
    return exited;
  };
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${err}`)), 60_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const m = /MCP gateway on (\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    return { url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
