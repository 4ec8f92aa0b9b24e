import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startSmack } from "../../examples/smack/server.js";
import { main } from "../../src/cli/main.js";
import { VERSION } from "../../src/version.js";
import { startDemo } from "../support/demo.js";
import { IMAGE_PATH } from "../support/image.js";
import { statelessRequest } from "../support/stateless.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-cli-"));
  const path = join(dir, "mcpengine.yaml");
  writeFileSync(path, text);
  return path;
}

describe("mcpengine tools", () => {
  const config = configFile(
    `backends:\n  - name: smack\n    target: "http://127.0.0.1:1"\n    descriptors: "${IMAGE_PATH}"\n    services: [smack.v1.SmackService]\n`,
  );

  it("prints the catalog as JSON without any MCP client", () => {
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", config, "--json"], {
      encoding: "utf8",
    });
    expect(out.status, out.stderr).toBe(0);
    const tools = JSON.parse(out.stdout) as { name: string; rpc: string; inputSchema: object }[];
    expect(tools.map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
    expect(tools[1]?.rpc).toBe("smack.v1.SmackService/ReadChannel");
  });

  it("prints a readable catalog", () => {
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", config], { encoding: "utf8" });
    expect(out.stdout).toContain("read_channel  (smack: smack.v1.SmackService/ReadChannel)");
    expect(out.stdout).toContain("scopes: smack.write");
  });

  it("exits as soon as it has printed the catalog of a backend found by reflection", async () => {
    const smack = await startSmack({ port: 0 });
    try {
      const reflected = configFile(
        `backends:\n  - name: smack\n    target: "http://127.0.0.1:${smack.port}"\n    descriptors: reflection\n`,
      );
      const started = Date.now();
      const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, "tools", "--config", reflected, "--json"]);
        let stdout = "";
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
        });
        child.on("exit", (code) => resolve({ code, stdout }));
      });
      expect(out.code).toBe(0);
      expect((JSON.parse(out.stdout) as unknown[]).length).toBe(4);
      // An open reflection connection kept the process alive for Connect's idle timeout before.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await smack.close();
    }
  });

  it("exits 1 naming the file and the key path of a bad setting", () => {
    const bad = configFile(`backends:\n  - name: a\n    target: "http://x:1"\n  - name: b\n    target: x\n`);
    const out = spawnSync(process.execPath, [BIN, "tools", "--config", bad], { encoding: "utf8" });
    expect(out.status).toBe(1);
    expect(out.stderr).toBe(
      `mcpengine tools: ${bad}: backends[1].target: must be an http:// (h2c) or https:// (TLS) URL, got "x"\n`,
    );
  });
});

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
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, ...out };
}

describe("mcpengine", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([["--version"], ["-v"], ["version"]])("prints its version for %s", async (arg) => {
    expect(await run(arg)).toEqual({ code: 0, stdout: `mcpengine ${VERSION}\n`, stderr: "" });
  });

  it.each([["help"], ["--help"], ["-h"]])("prints the usage on stdout for %s", async (arg) => {
    const { code, stdout, stderr } = await run(arg);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(/^Usage: mcpengine <command> \[options\]\n/);
    for (const command of ["serve", "tools", "demo", "help", "version"]) {
      expect(stdout).toMatch(new RegExp(`^  ${command} +\\S`, "m"));
    }
  });

  it("prints the usage on stderr and exits 2 without a command", async () => {
    const { code, stdout, stderr } = await run();
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toMatch(/^Usage: mcpengine <command>/);
  });

  it.each([
    ["frobnicate", 'mcpengine: unknown command "frobnicate"'],
    ["help frobnicate", 'mcpengine help: unknown command "frobnicate"'],
    ["help serve extra", 'mcpengine help: unexpected argument "extra"'],
  ])("answers mcpengine %s with the usage and exit code 2", async (args, message) => {
    const { code, stdout, stderr } = await run(...args.split(" "));
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    const [first, usage] = stderr.split("\n\n");
    expect(first).toBe(message);
    expect(usage).toMatch(/^Usage: mcpengine <command>/);
  });
});

describe("mcpengine <command> --help", () => {
  afterEach(() => vi.restoreAllMocks());

  const options = {
    serve: [
      /^ {2}-c, --config <file> +The gateway configuration, YAML or JSON \(default: mcpengine\.yaml\)$/m,
    ],
    tools: [
      /^ {2}-c, --config <file> +.*\(default: mcpengine\.yaml\)$/m,
      /^ {6}--json +Print JSON.*\(default: off\)$/m,
    ],
    demo: [
      /^ {6}--port <port> +.*\(default: 8080\)$/m,
      /^ {6}--host <host> +.*\(default: 127\.0\.0\.1\)$/m,
      /^ {6}--smack-port <port> +.*\(default: 0\)$/m,
      /^ {6}--data-dir <dir> +.*\(default: in memory\)$/m,
    ],
  };

  it.each(
    Object.entries(options).flatMap(([command, lines]) =>
      [`${command} --help`, `${command} -h`, `help ${command}`].map(
        (args) => [args, command, lines] as const,
      ),
    ),
  )("prints each option with its default for mcpengine %s", async (args, command, lines) => {
    const { code, stdout, stderr } = await run(...args.split(" "));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(new RegExp(`^Usage: mcpengine ${command} \\[options\\]\n`));
    for (const line of lines) expect(stdout).toMatch(line);
    expect(stdout).toMatch(/^ {2}-h, --help +Print this help$/m);
  });
});

describe("mcpengine <command> with wrong arguments", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ["serve --bogus", 'unknown option "--bogus"'],
    ["tools -x", 'unknown option "-x"'],
    ["demo --prot 1", 'unknown option "--prot"'],
    ["tools extra", 'unexpected argument "extra"'],
    ["serve -- extra", 'unexpected argument "extra"'],
    ["tools --config", 'option "--config" needs a value (--config <file>)'],
    ["tools -c --json", 'option "-c" needs a value (--config <file>)'],
    ["tools --json=yes", 'option "--json" takes no value'],
  ])("answers mcpengine %s with %s, the command's usage and exit code 2", async (args, message) => {
    const argv = args.split(" ");
    const { code, stdout, stderr } = await run(...argv);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    const [first, usage] = stderr.split("\n\n");
    expect(first).toBe(`mcpengine ${argv[0]}: ${message}`);
    expect(usage).toBe(`Usage: mcpengine ${argv[0]} [options]`);
  });

  it("says where it looked for a missing config file and how to give one", async () => {
    const missing = join(tmpdir(), "mcpengine-no-such-dir", "mcpengine.yaml");
    const { code, stderr } = await run("serve", "--config", missing);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `mcpengine serve: ${missing}: no such file; give the configuration file with --config <file>\n`,
    );
  });

  it("looks for mcpengine.yaml in the working directory by default", async () => {
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), "mcpengine-cwd-"));
    process.chdir(dir);
    try {
      const { code, stderr } = await run("tools");
      expect(code).toBe(1);
      expect(stderr).toContain(`${join(process.cwd(), "mcpengine.yaml")}: no such file; give`);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("mcpengine demo", () => {
  it("serves Smack's tools over MCP on embedded defaults and stops on SIGINT", async () => {
    const demo = await startDemo(BIN);
    try {
      const res = await fetch(demo.url, { method: "POST", ...statelessRequest(1, "tools/list") });
      const body = (await res.json()) as { result: { tools: { name: string }[] } };
      expect(body.result.tools.map((t) => t.name)).toContain("write_to_channel");
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});
