import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statelessRequest } from "../support/stateless.js";
import { isCallback, type Page, register, startLogin } from "./idp-client.js";
import {
  alive,
  BIN,
  type DemoProcess,
  descendants,
  kill,
  partPids,
  startDemoProcess,
  until,
} from "./run-demo.js";

/**
 * `mcpengine demo` as a process: its three parts, the login they make
 * together (driven over plain HTTP here; demo-browser.test.ts uses Chromium
 * and the proxy), the `--no-auth` mode, taken ports, and stopping.
 */

const home = mkdtempSync(join(tmpdir(), "mcpengine-demo-home-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs `mcpengine <args>` to its end (bounded) and collects what it wrote. */
function run(args: readonly string[], ms = 30_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, MCPENGINE_HOME: home, DATABASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mcpengine ${args.join(" ")} still running after ${ms} ms:\n${stderr}`));
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Something listening on a port of 127.0.0.1, as another program would. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** A tools/call or tools/list through the gateway, with a token or without. */
async function mcp(url: string, method: string, params: Record<string, unknown> = {}, token?: string) {
  const request = statelessRequest(1, method, params);
  const res = await fetch(url, {
    method: "POST",
    headers: { ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: request.body,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

function toolNames(body: Record<string, unknown>): string[] {
  return ((body.result as { tools: { name: string }[] }).tools ?? []).map((t) => t.name);
}

describe("mcpengine demo with a taken port", () => {
  let taken: { port: number; server: Server };
  beforeAll(async () => {
    taken = await occupy();
  });
  afterAll(() => new Promise<void>((resolve) => taken.server.close(() => resolve())));

  it.each([
    ["--port", "the MCP gateway"],
    ["--idp-port", "the identity provider"],
    ["--smack-port", "Smack"],
  ])("exits 1 naming the port and %s before starting anything", async (flag, whose) => {
    const ports: Record<string, string> = { "--port": "0", "--idp-port": "0", "--smack-port": "0" };
    ports[flag] = String(taken.port);
    const { code, stdout, stderr } = await run(["demo", ...Object.entries(ports).flat()]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `mcpengine demo: port ${taken.port} on 127.0.0.1 (${whose}) is already in use; ` +
        `stop what listens there or pick another port with ${flag} <port> (0 picks a free one)\n`,
    );
  });

  it("says so when two parts are given the same port", async () => {
    const { code, stderr } = await run(["demo", "--port", "9", "--idp-port", "9"]);
    expect(code).toBe(1);
    expect(stderr).toBe("mcpengine demo: --port and --idp-port are both 9; give each part its own port\n");
  });

  it("has a part that finds its port taken say which option moves it", async () => {
    const { code, stderr } = await run([
      "demo",
      "--only",
      "idp",
      "--port",
      "8080",
      "--idp-port",
      String(taken.port),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${taken.port} on 127.0.0.1 (the identity provider) is already in use`);
    expect(stderr).toContain("--idp-port <port>");
  });

  it.each([
    [["--port", "http"], '--port "http" is not a port (0-65535)'],
    [["--idp-port", "70000"], '--idp-port "70000" is not a port (0-65535)'],
    [["--only", "db"], '--only "db" is not one of smack, idp, gateway'],
  ])("answers demo %j with a usage error", async (args, message) => {
    const { code, stderr } = await run(["demo", ...args]);
    expect(code).toBe(2);
    expect(stderr).toBe(`mcpengine demo: ${message}\n`);
  });
});

describe("mcpengine demo (login on)", () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemoProcess(
      ["--port", "0", "--idp-port", "0"],
      { MCPENGINE_HOME: home },
      { ownGroup: true },
    );
  }, 120_000);
  afterAll(() => {
    if (demo && demo.child.exitCode === null) kill(demo.child, "SIGKILL");
  });

  /** A token from the demo's provider, logging in as `login` over HTTP with a new client. */
  async function tokenFor(login: string, password: string): Promise<string> {
    const issuer = demo.issuer ?? "";
    const flow = startLogin(issuer, await register(issuer), {
      scope: "smack.read smack.write offline_access",
      resource: demo.url,
    });
    const consent = await flow.logIn((await flow.open()) as Page, login, password);
    if (isCallback(consent)) throw new Error(`no consent page: ${consent.callback.href}`);
    const done = await flow.answer(consent, "confirm");
    if (!isCallback(done)) throw new Error(`no callback: ${done.html.slice(0, 200)}`);
    return (await flow.tokens(done.callback)).access_token ?? "";
  }

  it("runs Smack, the identity provider and the gateway as three processes with prefixed logs", () => {
    expect([...partPids(demo.child.pid ?? 0).keys()].sort()).toEqual(["gateway", "idp", "smack"]);
    expect(demo.err()).toMatch(
      /^smack {3}│ Smack \(gRPC\) on 127\.0\.0\.1:\d+, PGlite in memory; 6 seed messages written$/m,
    );
    expect(demo.err()).toMatch(
      /^idp {5}│ OpenID provider http:\/\/127\.0\.0\.1:\d+ issuing tokens for http/m,
    );
    expect(demo.err()).toMatch(/^gateway │ .*mcpengine listening on .* auth=on/m);
    expect(demo.out()).toContain("alice / wonderland");
    expect(demo.out()).toContain(
      `"args": [\n            "${BIN}",\n            "proxy",\n            "${demo.url}"`,
    );
  });

  it("refuses a call without a token and points at the demo's provider", async () => {
    const refused = await mcp(demo.url, "tools/list");
    expect(refused.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(
      refused.headers.get("www-authenticate") ?? "",
    )?.[1];
    const metadata = (await (await fetch(metadataUrl ?? "")).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      resource: demo.url,
      authorization_servers: [demo.issuer],
      scopes_supported: ["smack.read", "smack.write"],
    });
  });

  it("lets alice write, and Smack names her as the author", async () => {
    const token = await tokenFor("alice", "wonderland");
    expect(decodeJwt(token)).toMatchObject({ sub: "alice", aud: demo.url });
    expect(toolNames((await mcp(demo.url, "tools/list", {}, token)).body)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
      "write_to_channel",
    ]);
    const wrote = await mcp(
      demo.url,
      "tools/call",
      { name: "write_to_channel", arguments: { channel: "general", text: "hi from alice" } },
      token,
    );
    expect(wrote.body.result).toMatchObject({ structuredContent: { message: { author: "alice" } } });
    const read = await mcp(
      demo.url,
      "tools/call",
      { name: "read_channel", arguments: { channel: "general" } },
      token,
    );
    const messages = (
      read.body.result as { structuredContent: { messages: { author: string; text: string }[] } }
    ).structuredContent.messages;
    // The three seed messages, then hers.
    expect(messages.map((m) => m.author)).toEqual(["alice", "bob", "alice", "alice"]);
    expect(messages.at(-1)?.text).toBe("hi from alice");
  });

  it("shows bob no write_to_channel and answers his write with 403 insufficient_scope", async () => {
    const token = await tokenFor("bob", "builder");
    expect(decodeJwt(token).scope).toBe("smack.read");
    expect(toolNames((await mcp(demo.url, "tools/list", {}, token)).body)).toEqual([
      "list_channels",
      "read_channel",
      "watch_channel",
    ]);
    const refused = await mcp(
      demo.url,
      "tools/call",
      { name: "write_to_channel", arguments: { channel: "general", text: "x" } },
      token,
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toContain(
      'error="insufficient_scope", scope="smack.write"',
    );
  });

  it("stops every process on Ctrl-C (SIGINT to each process of its group) and exits 0", async () => {
    const pid = demo.child.pid ?? 0;
    const below = descendants(pid);
    expect(below.length).toBeGreaterThanOrEqual(3);
    kill(demo.child, "SIGINT");
    expect(await demo.exited).toEqual({ code: 0, signal: null });
    await until(() => below.every((p) => !alive(p)), 10_000, "every process of the demo to end");
    expect(demo.err()).toContain("mcpengine demo: SIGINT: stopping every part");
    expect(demo.err()).toMatch(/mcpengine demo: stopped\n$/);
  });
});

describe("mcpengine demo --no-auth", () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemoProcess(["--port", "0", "--no-auth"], { MCPENGINE_HOME: home });
  }, 120_000);
  afterAll(() => {
    if (demo && demo.child.exitCode === null) demo.child.kill("SIGKILL");
  });

  it("runs Smack and the gateway only, and serves every tool without a token", async () => {
    expect([...partPids(demo.child.pid ?? 0).keys()].sort()).toEqual(["gateway", "smack"]);
    expect(demo.issuer).toBeUndefined();
    expect(demo.out()).toContain(`--cli ${demo.url} --transport http --method tools/list`);
    const list = await mcp(demo.url, "tools/list");
    expect(list.status).toBe(200);
    expect(toolNames(list.body)).toContain("write_to_channel");
    const read = await mcp(demo.url, "tools/call", { name: "list_channels", arguments: {} });
    expect(read.body.result).toMatchObject({
      structuredContent: {
        channels: [
          { name: "announcements", messageCount: "1" },
          { name: "general", messageCount: "3" },
          { name: "random", messageCount: "2" },
        ],
      },
    });
  });

  it("leaves no part behind when the supervisor itself is killed", async () => {
    const parts = [...partPids(demo.child.pid ?? 0).values()];
    expect(parts).toHaveLength(2);
    demo.child.kill("SIGKILL");
    await demo.exited;
    // Each part sees the supervisor's IPC channel close, and stops.
    await until(() => parts.every((p) => !alive(p)), 15_000, "the parts to stop after their supervisor died");
  });
});

describe("mcpengine demo when a part dies", () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemoProcess(["--port", "0", "--no-auth"], { MCPENGINE_HOME: home });
  }, 120_000);
  afterAll(() => {
    if (demo && demo.child.exitCode === null) demo.child.kill("SIGKILL");
  });

  it("stops the other parts, says which one died, and exits 1", async () => {
    const parts = partPids(demo.child.pid ?? 0);
    process.kill(parts.get("gateway") ?? 0, "SIGKILL");
    expect(await demo.exited).toEqual({ code: 1, signal: null });
    expect(demo.err()).toContain(
      "mcpengine demo: the MCP gateway stopped unexpectedly (killed by SIGKILL); stopping the demo",
    );
    await until(() => !alive(parts.get("smack") ?? 0), 10_000, "Smack to stop");
  });
});
