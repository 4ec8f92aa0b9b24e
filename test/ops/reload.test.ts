import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_PATH } from "../support/image.js";
import {
  INTEROP_SERVICE,
  type InteropBackend,
  startGrpcJsBackend,
} from "../support/interop/node-backends.js";
import { statelessRequest } from "../support/stateless.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

describe("mcpengine serve on SIGHUP", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcpengine-sighup-"));
  const config = join(dir, "mcpengine.yaml");
  let backend: InteropBackend;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    backend = await startGrpcJsBackend();
    // Two descriptor files of the same backend: one without the Repeat RPC.
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
    for (const f of set.file) {
      for (const s of f.service) {
        if (`${f.package}.${s.name}` === INTEROP_SERVICE)
          s.method = s.method.filter((m) => m.name !== "Repeat");
      }
    }
    writeFileSync(join(dir, "small.binpb"), toBinary(FileDescriptorSetSchema, set));
    writeFileSync(join(dir, "full.binpb"), readFileSync(IMAGE_PATH));
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (descriptors: string) =>
    writeFileSync(
      config,
      `listen: "127.0.0.1:0"\nreload_interval: 0s\nbackends:\n  - name: interop\n` +
        `    target: "${backend.url}"\n    descriptors: ${descriptors}\n    services: [${INTEROP_SERVICE}]\n`,
    );

  it("re-reads the configuration file and serves the tools it now names", async () => {
    write("small.binpb");
    const proc = spawn(process.execPath, [BIN, "serve", "--config", config, "--log-format", "json"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    await expect.poll(() => /MCP endpoint (\S+)\/mcp/.exec(stderr)?.[1], { timeout: 20_000 }).toBeTruthy();
    const url = /MCP endpoint (\S+)\/mcp/.exec(stderr)?.[1];
    const toolNames = async () => {
      const { body, headers } = statelessRequest(1, "tools/list");
      const res = await fetch(`${url}/mcp`, { method: "POST", body, headers });
      const json = (await res.json()) as { result: { tools: { name: string }[] } };
      return json.result.tools.map((t) => t.name);
    };
    expect(await toolNames()).toEqual(["echo"]);

    write("full.binpb");
    proc.kill("SIGHUP");
    await expect.poll(toolNames, { timeout: 10_000 }).toEqual(["echo", "repeat"]);
    await expect.poll(() => stderr, { timeout: 5_000 }).toMatch(/SIGHUP: reloading/);
    // Log lines are written asynchronously: the new catalog may be served before its line is out.
    await expect.poll(() => stderr, { timeout: 5_000 }).toMatch(/catalog reloaded: 2 tools, added repeat/);

    // A broken file is reported and changes nothing; the process lives on.
    writeFileSync(config, "backends: [ { name: ");
    proc.kill("SIGHUP");
    await expect
      .poll(() => stderr, { timeout: 10_000 })
      .toMatch(/reload failed; still serving the last good catalog: /);
    expect(await toolNames()).toEqual(["echo", "repeat"]);
    expect(proc.exitCode).toBeNull();
  });
});
