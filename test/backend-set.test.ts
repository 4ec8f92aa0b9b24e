import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBackendSet } from "../src/backend-set.js";
import { parseConfig } from "../src/config/index.js";
import { createLogger } from "../src/observe/index.js";
import { IMAGE_PATH } from "./support/image.js";

const SERVICE = "mcpengine.interop.v1.InteropService";

/** The repository's image with `method` taken out of the interop service. */
function imageWithout(method: string): Uint8Array {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(IMAGE_PATH));
  for (const file of set.file) {
    for (const service of file.service) {
      if (`${file.package}.${service.name}` === SERVICE) {
        service.method = service.method.filter((m) => m.name !== method);
      }
    }
  }
  return toBinary(FileDescriptorSetSchema, set);
}

describe("createBackendSet", () => {
  let dir: string;
  let descriptors: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  /** Replaces the descriptor file in one step, so no reload reads half of it. */
  function writeDescriptors(bytes: Uint8Array): void {
    writeFileSync(`${descriptors}.tmp`, bytes);
    renameSync(`${descriptors}.tmp`, descriptors);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mcpengine-backend-set-"));
    descriptors = join(dir, "interop.binpb");
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs a catalog swap that throws during a timed reload, and serves the next change", async () => {
    writeDescriptors(imageWithout("Repeat"));
    const config = parseConfig(
      JSON.stringify({
        listen: "127.0.0.1:0",
        backends: [{ name: "interop", target: "http://127.0.0.1:1", descriptors, services: [SERVICE] }],
      }),
    );
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({ level: "debug", sink: { write: (l) => lines.push(JSON.parse(l)) } });
    const served: string[][] = [];
    let failures = 0;
    const set = createBackendSet(
      // Below the shortest interval the file accepts, so the test does not wait seconds.
      { ...config, reloadIntervalMs: 50 },
      {
        logger,
        wrap: (handle) => handle,
        retryMs: 1_000,
        reloadFailed: () => failures++,
        serve(next) {
          served.push(next.tools.map((t) => t.name));
          if (served.length === 2) throw new Error("serve broke");
        },
      },
    );
    try {
      await set.start();
      expect(set.catalog().tools.map((t) => t.name)).toEqual(["echo"]);

      writeDescriptors(readFileSync(IMAGE_PATH));
      await expect.poll(() => served.length, { timeout: 5_000 }).toBe(1);

      // The second swap throws: logged, not left to end the process.
      writeDescriptors(imageWithout("Repeat"));
      await expect
        .poll(() => lines.find((l) => l.level === "error" && l.msg === "reload failed: serve broke"), {
          timeout: 5_000,
        })
        .toBeDefined();
      expect(failures).toBe(1);

      // Later changes are still served.
      writeDescriptors(readFileSync(IMAGE_PATH));
      await expect.poll(() => served.length, { timeout: 5_000 }).toBe(3);
      expect(served).toEqual([["echo", "repeat"], ["echo"], ["echo", "repeat"]]);
      expect(set.catalog().tools.map((t) => t.name)).toEqual(["echo", "repeat"]);
      expect(unhandled).toEqual([]);
    } finally {
      set.close();
    }
  });
});
