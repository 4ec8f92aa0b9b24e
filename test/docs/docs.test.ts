import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ConfigSchema } from "../../gen/es/mcpengine/v1/config_pb.js";
import { createResourceServer } from "../../src/auth/index.js";
import { main } from "../../src/cli/main.js";
import { ConfigError, type GatewayConfig, parseConfig } from "../../src/config/index.js";
import { makeTestPki, OPENSSL, type TestPki } from "../support/test-ca.js";
import { cliProblems, readCommandTable } from "./cli-mentions.js";
import { anchors, type CodeBlock, type Doc, docsFiles, links, outcomeOf, ROOT, readDoc } from "./markdown.js";
import { actualFor, BUF, compileSnippets } from "./proto-examples.js";

const BIN = join(ROOT, "bin", "mcpengine.js");
const DOCS = docsFiles();
const README = readDoc("README.md");
const EXAMPLES = join(ROOT, "examples", "configs");

/** Environment for `${NAME}` in examples: a plausible value for any name, so no example needs a real secret. */
const STUB_ENV: NodeJS.ProcessEnv = new Proxy(
  {},
  {
    get: (_, name) => {
      if (typeof name !== "string") return undefined;
      if (/REDIS/.test(name) && /URL/.test(name)) return "redis://127.0.0.1:6379";
      if (/STATE_KEY/.test(name)) return Buffer.alloc(32, 1).toString("base64");
      if (/PORT/.test(name)) return "8080";
      if (/HOST/.test(name)) return "backend.internal";
      if (/URL|ISSUER|URI/.test(name)) return "https://example.com";
      return "stub-value";
    },
    has: () => true,
  },
);

/** Config keys (proto and JSON names) that may start a YAML block: it is a configuration or a part of one. */
const CONFIG_KEYS = new Set(ConfigSchema.fields.flatMap((f) => [f.name, f.jsonName]));

/** Checks (`<!-- check: kind -->`) whose YAML is not a good configuration, or is checked on its own. */
const OWN_CHECKS = new Set(["config-error", "defaults"]);

/**
 * Replaces the paths of `tls` sections (the listener's and each backend's) with files that exist,
 * since the gateway reads them when it loads the configuration: the docs name files of the
 * reader's machine.
 */
function withTestCertificates(doc: unknown, pki: () => TestPki): unknown {
  if (!isMapping(doc)) return doc;
  const out: Record<string, unknown> = { ...doc };
  if (isMapping(out.tls)) out.tls = { ...out.tls, cert: pki().serverCert, key: pki().serverKey };
  if (Array.isArray(out.backends)) {
    out.backends = out.backends.map((b: unknown) => {
      if (!isMapping(b) || !isMapping(b.tls)) return b;
      const tls: Record<string, unknown> = { ...b.tls };
      if ("ca" in tls) tls.ca = pki().ca;
      if ("cert" in tls) tls.cert = pki().clientCert;
      if ("key" in tls) tls.key = pki().clientKey;
      return { ...b, tls };
    });
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The YAML blocks of a doc that are gateway configurations, whole (they name `backends`) or in
 * part (every top-level key is a config key, and at least one is): a part is read with a stub
 * backend added.
 */
function configBlocks(doc: Doc): { block: CodeBlock; value: Record<string, unknown> }[] {
  return doc.blocks
    .filter((b) => b.lang === "yaml" && !(b.check && OWN_CHECKS.has(b.check.kind)))
    .flatMap((block) => {
      const value: unknown = parseYaml(block.text);
      if (!isMapping(value)) return [];
      const keys = Object.keys(value);
      const isConfig = "backends" in value || (keys.length > 0 && keys.some((k) => CONFIG_KEYS.has(k)));
      return isConfig ? [{ block, value }] : [];
    });
}

let pkiMade: TestPki | undefined;
const pki = () => {
  pkiMade ??= makeTestPki();
  return pkiMade;
};

describe("YAML in the docs", () => {
  const cases = [...DOCS, README].flatMap((doc) =>
    configBlocks(doc).map(({ block, value }) => [`${doc.path}:${block.line}`, block, value] as const),
  );

  it("finds the configuration examples of the docs (the check reads real blocks)", () => {
    const where = new Set(cases.map(([at]) => at.split(":")[0]));
    for (const path of ["README.md", "docs/configuration.md", "docs/auth.md", "docs/deploying.md"]) {
      expect(where, path).toContain(path);
    }
  });

  it.each(cases)("loads the configuration at %s", (at, block, value) => {
    const usesTls = /\btls\b/.test(block.text);
    if (usesTls && !OPENSSL) return; // the certificates are made with openssl
    const whole =
      "backends" in value ? value : { ...value, backends: [{ name: "stub", target: "http://127.0.0.1:1" }] };
    const text = stringifyYaml(withTestCertificates(whole, pki));
    expect(() => parseConfig(text, { source: at, env: STUB_ENV, baseDir: ROOT })).not.toThrow();
  });
});

describe("configuration checks in the docs", () => {
  const checks = [...DOCS, README].flatMap((doc) =>
    groups(doc)
      .filter(([check]) => check.kind === "config-error" || check.kind === "defaults")
      .map(([check, blocks]) => [`${doc.path}:${check.line} ${check.kind}`, check.kind, blocks] as const),
  );

  it("has error and defaults examples to check", () => {
    expect(checks.map(([, kind]) => kind)).toEqual(expect.arrayContaining(["config-error", "defaults"]));
  });

  it.each(checks)("%s says what the code says", (at, kind, blocks) => {
    const yaml = blocks.find((b) => b.lang === "yaml");
    expect(yaml, `${at}: a YAML block`).toBeDefined();
    const text = yaml?.text ?? "";
    if (kind === "config-error") {
      const expected = blocks.find((b) => b.lang === "text")?.text.trim();
      let error: unknown;
      try {
        parseConfig(text, { source: "mcpengine.yaml", env: {} });
      } catch (err) {
        error = err;
      }
      expect(error, `${at} loads without an error`).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(expected);
      return;
    }
    // defaults: the block spells out defaults, so it loads the same as its required keys alone.
    const full = parseYaml(text) as Record<string, unknown>;
    const minimal: Record<string, unknown> = {
      backends: (full.backends as Record<string, unknown>[]).map((b) => ({ name: b.name, target: b.target })),
    };
    if (isMapping(full.auth)) minimal.auth = { issuer: full.auth.issuer, audience: full.auth.audience };
    const load = (doc: unknown): GatewayConfig => parseConfig(JSON.stringify(doc), { source: at, env: {} });
    expect(load(full)).toEqual(load(minimal));
  });
});

describe("files quoted in the docs", () => {
  const quoted = [...DOCS, README].flatMap((doc) =>
    groups(doc)
      .filter(([check]) => check.kind === "file")
      .map(
        ([check, blocks]) => [`${doc.path}:${check.line} ${check.argument}`, check.argument, blocks] as const,
      ),
  );

  it("finds the quoted files", () => {
    expect(quoted.map(([, path]) => path)).toContain("examples/deploy/nginx.conf");
  });

  it.each(quoted)("%s is quoted as the file is", (_, path, blocks) => {
    expect(blocks[0]?.text).toBe(readFileSync(join(ROOT, path), "utf8"));
  });
});

describe("examples/configs", () => {
  const files = readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f));

  it("holds the demo, a descriptor-file backend, replicas, a generic OIDC config and one per IdP preset", async () => {
    const { PRESETS } = await import("../../src/auth/settings.js");
    const expected = [
      "demo.yaml",
      "descriptor-file.yaml",
      "auth-oidc.yaml",
      "replicas.yaml",
      ...Object.keys(PRESETS).map((p) => `auth-${p}.yaml`),
    ];
    expect(files.sort()).toEqual(expected.sort());
    for (const preset of Object.keys(PRESETS)) {
      expect(readFileSync(join(EXAMPLES, `auth-${preset}.yaml`), "utf8")).toMatch(
        new RegExp(`^ {2}preset: ${preset}\\b`, "m"),
      );
    }
  });

  it("has in demo.yaml what mcpengine demo runs with its default ports (Smack on 50051)", async () => {
    const { gatewayConfig } = await import("../../src/demo/settings.js");
    const { DEMO_OPTIONS } = await import("../../src/cli/demo.js");
    const port = Number(DEMO_OPTIONS.port.default);
    const idpPort = Number(DEMO_OPTIONS["idp-port"].default);
    expect({ port, idpPort, host: DEMO_OPTIONS.host.default }).toEqual({
      port: 8080,
      idpPort: 8090,
      host: "127.0.0.1",
    });
    const text = readFileSync(join(EXAMPLES, "demo.yaml"), "utf8");
    const fromFile = parseConfig(text, { source: "demo.yaml", env: {}, baseDir: EXAMPLES });
    expect(fromFile).toEqual(
      gatewayConfig({ host: "127.0.0.1", port, idpPort, smackPort: 50051, auth: true }),
    );
  });

  it.each(files)("loads %s, and its auth settings make a resource server for its own URL", (file) => {
    const text = readFileSync(join(EXAMPLES, file), "utf8");
    const config = parseConfig(text, { source: file, env: STUB_ENV, baseDir: EXAMPLES });
    if (!config.auth) return;
    // MCP clients check that the metadata's resource is the URL they connect to.
    const server = createResourceServer(config.auth, {
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      fetch: () => Promise.reject(new Error("no network in this test")),
    });
    const url = `${config.publicUrl ?? `http://${config.host}:${config.port}`}${config.path}`;
    expect(server.metadata().resource).toBe(url);
    expect(server.metadataUrl).toBe(
      `${new URL(url).origin}/.well-known/oauth-protected-resource${config.path}`,
    );
  });
});

describe("links in the docs", () => {
  const cases = [...DOCS, README].flatMap((doc) =>
    links(doc.text)
      .filter((l) => !/^[a-z][\w+.-]*:/i.test(l.target))
      .map((l) => [`${doc.path}:${l.line} → ${l.target}`, doc, l.target] as const),
  );

  it("finds the docs' relative links", () => {
    expect(cases.length).toBeGreaterThan(50);
  });

  it.each(cases)("%s exists", (_, doc, target) => {
    const [path = "", anchor] = target.split("#");
    const file = path === "" ? join(ROOT, doc.path) : resolve(ROOT, dirname(doc.path), decodeURI(path));
    expect(existsSync(file), `${file} does not exist`).toBe(true);
    if (anchor !== undefined && file.endsWith(".md")) {
      expect([...anchors(readFileSync(file, "utf8"))], `#${anchor} in ${file}`).toContain(anchor);
    }
  });
});

describe("mcpengine commands and flags in the docs", () => {
  afterEach(() => vi.restoreAllMocks());

  /** The command table, read from the CLI's own help. */
  async function table() {
    const help = async (...argv: string[]) => {
      let out = "";
      vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
        out += chunk.toString();
        return true;
      });
      await main(argv);
      vi.restoreAllMocks();
      return out;
    };
    const overview = await help("help");
    const commands = [...overview.matchAll(/^ {2}([a-z][\w-]*) {2,}/gm)].map((m) => m[1] ?? "");
    const helps = new Map<string, string>();
    for (const c of commands) helps.set(c, await help(c, "--help"));
    return readCommandTable(overview, (c) => helps.get(c) ?? "");
  }

  it("reads the command table from the CLI", async () => {
    const t = await table();
    expect([...t.keys()]).toEqual(
      expect.arrayContaining(["serve", "tools", "proxy", "demo", "init", "help"]),
    );
    expect(t.get("proxy")?.flags).toContain("--client-id");
    expect([...(t.get("proxy")?.subcommands ?? [])].sort()).toEqual(["install", "logout", "status"]);
    expect(t.get("init")?.flags).toContain("--force");
  });

  it.each([
    ["`mcpengine serv --config x.yaml`", 'unknown command "mcpengine serv"'],
    [
      "```sh\nnode bin/mcpengine.js proxy https://x/mcp --client-idd abc\n```",
      '"mcpengine proxy" has no flag --client-idd',
    ],
    ["Use `--no-browsr` for headless machines.", "no mcpengine command has the flag --no-browsr"],
    ["```sh\nnpm run demo -- --no-auht\n```", '"mcpengine demo" has no flag --no-auht'],
    ["`mcpengine --verbose`", '"mcpengine" has no flag --verbose'],
    ["```sh\nmcpengine frobnicate --x\n```", 'unknown command "mcpengine frobnicate"'],
    ["`mcpengine listening on <url>` is logged at start", undefined],
    [
      "```sh\nmcpengine proxy instal https://x/mcp --cursor\n```",
      '"mcpengine proxy" has no sub-command "instal"',
    ],
    ["`mcpengine proxy status https://x/mcp` and `mcpengine proxy <url>`", undefined],
    ["`mcpengine tools --config x.yaml --json` and `mcpengine.yaml`, `x-mcpengine-subject`", undefined],
  ])("tells a typo from a real command or flag: %s", async (markdown, problem) => {
    const found = cliProblems(markdown, await table()).map((p) => p.message);
    if (problem === undefined) expect(found).toEqual([]);
    else expect(found.join("\n")).toContain(problem);
  });

  it.each([...DOCS, README].map((d) => [d.path, d] as const))(
    "%s names only real commands and flags",
    async (_, doc) => {
      expect(cliProblems(doc.text, await table())).toEqual([]);
    },
  );
});

describe("proto examples of writing-tools.md", () => {
  const doc = readDoc("docs/writing-tools.md");
  const snippets = doc.blocks.filter((b) => b.lang === "proto" && !/^\s*syntax\s*=/m.test(b.text));
  let registry: ReturnType<typeof compileSnippets>;

  beforeAll(() => {
    registry = compileSnippets(snippets.map((b) => b.text));
  }, 60_000);

  const checks = groups(doc).map(
    ([check, blocks]) => [`line ${check.line}: ${check.kind} ${check.argument}`, check, blocks] as const,
  );

  it("compiles every proto snippet with buf, and checks many of them", () => {
    expect(snippets.length).toBeGreaterThan(15);
    expect(checks.length).toBeGreaterThan(15);
  });

  it.each(checks)("%s shows what the gateway makes of it", (_, check, blocks) => {
    const outcome = blocks.filter((b) => b.lang === "json").at(-1);
    expect(outcome, "a JSON block").toBeDefined();
    const shown = JSON.parse(outcome?.text ?? "null") as unknown;
    let actual = actualFor(registry, check.kind, check.argument, blocks);
    if (check.kind === "tool" && isMapping(actual) && isMapping(shown)) {
      // A tool entry may leave its schemas out; everything else must be shown.
      actual = Object.fromEntries(
        Object.entries(actual).filter(([k]) => k in shown || !k.endsWith("Schema")),
      );
    }
    expect(shown).toEqual(actual);
  });
});

describe("the getting-started walkthrough", () => {
  const doc = readDoc("docs/getting-started.md");
  const of = (kind: string) => {
    const found = groups(doc).find(([check]) => check.kind === kind);
    if (!found) throw new Error(`docs/getting-started.md has no <!-- check: ${kind} --> block`);
    return found;
  };

  it("builds the example proto with buf, and mcpengine tools lists what the doc shows", () => {
    const [protoCheck, protoBlocks] = of("walkthrough-proto");
    const proto = protoBlocks.find((b) => b.lang === "proto")?.text ?? "";
    const [, configBlocks] = of("walkthrough-config");
    const config = configBlocks.find((b) => b.lang === "yaml")?.text ?? "";
    const [, toolBlocks] = of("walkthrough-tools");
    const shown = toolBlocks.find((b) => b.lang === "text")?.text ?? "";
    // The commands the test runs are the doc's own.
    for (const command of [
      "mkdir -p proto/mcpengine/v1",
      "cp <clone>/proto/mcpengine/v1/options.proto proto/mcpengine/v1/",
      "npx buf build proto -o inventory.binpb",
      "mcpengine tools --config mcpengine.yaml",
    ]) {
      expect(doc.text).toContain(command);
    }

    const dir = mkdtempSync(join(tmpdir(), "mcpengine-walkthrough-"));
    mkdirSync(join(dir, "proto", "mcpengine", "v1"), { recursive: true });
    copyFileSync(
      join(ROOT, "proto/mcpengine/v1/options.proto"),
      join(dir, "proto/mcpengine/v1/options.proto"),
    );
    const protoPath = join(dir, protoCheck.argument);
    mkdirSync(dirname(protoPath), { recursive: true });
    writeFileSync(protoPath, proto);
    const build = spawnSync(BUF, ["build", "proto", "-o", "inventory.binpb"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(build.status, build.stderr).toBe(0);
    writeFileSync(join(dir, "mcpengine.yaml"), config);

    const tools = spawnSync(process.execPath, [BIN, "tools", "--config", "mcpengine.yaml"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(tools.status, tools.stderr).toBe(0);
    const actual = tools.stdout.split("\n");
    const expected = shown.split("\n").filter((l) => l.trim() !== "");
    // Every line shown is printed (a line ending in "…" is a prefix), and every tool is shown.
    for (const line of expected) {
      const found = line.endsWith("…")
        ? actual.some((a) => a.startsWith(line.slice(0, -1)))
        : actual.includes(line);
      expect(found, `not printed: ${line}\n--- printed:\n${tools.stdout}`).toBe(true);
    }
    const heads = (lines: readonly string[]) => lines.filter((l) => /^\S/.test(l));
    expect(heads(expected)).toEqual(heads(actual));
  });

  it("runs examples/configs/descriptor-file.yaml from a clone as its comments say", () => {
    const file = readFileSync(join(EXAMPLES, "descriptor-file.yaml"), "utf8");
    expect(file).toContain("node bin/mcpengine.js tools --config examples/configs/descriptor-file.yaml");
    const out = spawnSync(
      process.execPath,
      [BIN, "tools", "--json", "--config", "examples/configs/descriptor-file.yaml"],
      {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(out.status, out.stderr).toBe(0);
    expect((JSON.parse(out.stdout) as { name: string }[]).map((t) => t.name)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
  });
});

/** The checks of a doc, each with the blocks it covers, in order. */
function groups(doc: Doc): [NonNullable<CodeBlock["check"]>, CodeBlock[]][] {
  const byLine = new Map<number, [NonNullable<CodeBlock["check"]>, CodeBlock[]]>();
  for (const block of doc.blocks) {
    if (!block.check) continue;
    const group = byLine.get(block.check.line) ?? [block.check, []];
    group[1].push(block);
    byLine.set(block.check.line, group);
  }
  // Every check must reach the block that shows its outcome.
  for (const [check, blocks] of byLine.values()) {
    const { lang, nth } = outcomeOf(check.kind);
    if (blocks.filter((b) => lang === "*" || b.lang === lang).length < nth) {
      throw new Error(`${doc.path}:${check.line}: check "${check.kind}" has no ${lang} block to compare`);
    }
  }
  return [...byLine.values()];
}
