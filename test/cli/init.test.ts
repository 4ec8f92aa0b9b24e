import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PLACEHOLDER_BACKEND, STARTER_CONFIG } from "../../src/cli/init.js";
import { main } from "../../src/cli/main.js";
import { loadConfigFile, parseConfig } from "../../src/config/index.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

/** Values for the `${NAME}` references of the starter file's commented-out settings. */
const ENV = {
  REDIS_URL: "redis://127.0.0.1:6379",
  MCPENGINE_STATE_KEY: Buffer.alloc(32, 7).toString("base64"),
};

/** Runs `main` in this process and collects what it writes. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const capture = (stream: "stdout" | "stderr") =>
    vi.spyOn(process[stream], "write").mockImplementation((chunk: string | Uint8Array) => {
      out[stream] += chunk.toString();
      return true;
    });
  capture("stdout");
  capture("stderr");
  try {
    return { code: await main(argv), ...out };
  } finally {
    vi.restoreAllMocks();
  }
}

/**
 * The file with every commented-out setting turned on: a line whose text after `# ` starts with
 * a lower-case key and a colon (or a list item) is a setting; prose starts otherwise.
 */
function uncommentSettings(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      const m = /^(\s*)# (\s*(?:[a-z_]+:|- ).*)$/.exec(line);
      return m ? `${m[1]}${m[2]}` : line;
    })
    .join("\n");
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "mcpengine-init-"));
}

describe("mcpengine init", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes a starter mcpengine.yaml that loads as it is, with the placeholder backend marked", async () => {
    const path = join(tempDir(), "mcpengine.yaml");
    const { code, stdout, stderr } = await run("init", "--output", path);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(path, "utf8")).toBe(STARTER_CONFIG);
    const config = await loadConfigFile(path);
    expect(config.backends.map((b) => b.name)).toEqual([PLACEHOLDER_BACKEND]);
    expect(config.auth).toBeUndefined();
    expect({ host: config.host, port: config.port, path: config.path }).toEqual({
      host: "127.0.0.1",
      port: 8080,
      path: "/mcp",
    });
    expect(STARTER_CONFIG).toMatch(
      /# PLACEHOLDER: replace this backend with your own gRPC service\.\n {2}- name: my-service /,
    );
    expect(stdout).toBe(
      `Wrote ${path}: a starter configuration with one placeholder backend ("my-service").\n` +
        "Next: point that backend at your gRPC service, list the tools it gives, then start the gateway:\n" +
        `  mcpengine tools --config ${path}\n` +
        `  mcpengine serve --config ${path}\n`,
    );
  });

  it("writes a file whose commented-out settings also load once uncommented", () => {
    const on = uncommentSettings(STARTER_CONFIG);
    // The uncommenting really turned settings on: auth, store, protocol and the rest.
    expect(on).toMatch(/^auth:\n {2}issuer:/m);
    const config = parseConfig(on, { source: "starter, uncommented", env: ENV });
    expect(config.auth?.issuer).toBe("https://idp.example.com/realms/acme");
    expect(config.auth?.audience).toBe("http://127.0.0.1:8080/mcp");
    expect(config.store).toEqual({ kind: "redis", url: ENV.REDIS_URL, keyPrefix: "mcpengine:" });
    expect(config.backends[0]).toMatchObject({
      protocol: "grpc",
      timeoutMs: 30_000,
      services: ["my.package.v1.MyService"],
      identity: { mode: "forward" },
    });
  });

  it("refuses to overwrite an existing file without --force, and overwrites it with --force", async () => {
    const path = join(tempDir(), "mine.yaml");
    writeFileSync(path, "keep me\n");
    const refused = await run("init", "-o", path);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 1, stdout: "" });
    expect(refused.stderr).toBe(
      `mcpengine init: ${path} already exists; add --force to overwrite it, or --output <file> to write elsewhere\n`,
    );
    expect(readFileSync(path, "utf8")).toBe("keep me\n");

    const forced = await run("init", "--output", path, "--force");
    expect(forced.code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(STARTER_CONFIG);
  });

  it("names the missing folder when the output cannot be written there", async () => {
    const dir = join(tempDir(), "no", "such");
    const { code, stderr } = await run("init", "--output", join(dir, "mcpengine.yaml"));
    expect(code).toBe(1);
    expect(stderr).toBe(
      `mcpengine init: cannot write ${join(dir, "mcpengine.yaml")}: the folder ${dir} does not exist\n`,
    );
  });

  it("quotes a path with spaces in the commands it suggests", async () => {
    const path = join(tempDir(), "my config.yaml");
    const { stdout } = await run("init", "--output", path);
    expect(stdout).toContain(`  mcpengine serve --config '${path}'\n`);
  });

  it("writes ./mcpengine.yaml by default through the launcher, and refuses to write it twice", () => {
    const dir = tempDir();
    const init = spawnSync(process.execPath, [BIN, "init"], { cwd: dir, encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/^Wrote mcpengine\.yaml: /);
    expect(readFileSync(join(dir, "mcpengine.yaml"), "utf8")).toBe(STARTER_CONFIG);
    const again = spawnSync(process.execPath, [BIN, "init"], { cwd: dir, encoding: "utf8" });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("mcpengine.yaml already exists");
  });

  it("lists init in the usage, with its options", async () => {
    expect((await run("help")).stdout).toMatch(/^ {2}init +Write a commented starter mcpengine\.yaml/m);
    const { stdout } = await run("init", "--help");
    expect(stdout).toMatch(/^ {2}-o, --output <file> +Where to write .*\(default: mcpengine\.yaml\)$/m);
    expect(stdout).toMatch(/^ {6}--force +Overwrite the file if it exists \(default: off\)$/m);
  });
});
