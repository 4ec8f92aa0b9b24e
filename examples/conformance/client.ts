/**
 * `npm run --silent conformance:client -- <url>`: the host under test in the
 * client leg of the MCP conformance suite. The suite appends the scenario
 * server's URL and names the scenario in `MCP_CONFORMANCE_SCENARIO`
 * (credentials it hands out in `MCP_CONFORMANCE_CONTEXT`, the revision in
 * `MCP_CONFORMANCE_PROTOCOL_VERSION`).
 *
 * What is tested is `mcpengine proxy <url>`: this script is only the host a
 * user would have, the official SDK 2.x client speaking stdio to the proxy
 * it spawns — the session handshake for the dated revisions up to
 * 2025-11-25, per-request `_meta` for 2026-07-28 — plus a user who clicks
 * every login link the proxy shows (the suite's authorization server approves
 * at once, so "clicking" is following redirects to the proxy's loopback
 * callback). It lists and calls what the server offers, then exits: 0 when
 * everything answered, 1 otherwise (the suite judges by what it saw).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

/** The client ID metadata document URL the suite's CIMD scenario expects (it is never fetched). */
const CIMD_URL = "https://conformance-test.local/client-metadata.json";
/** The proxy's stderr line announcing a login link. */
const LOGIN_LINE = /\blog in to \S+.* at (https?:\/\/\S+)\s*$/;
/** The proxy's stderr line saying a login failed (before or after the browser's part). */
const LOGIN_FAILED = /\blogin to \S+ failed: (.*)$/;
/** The login link in the proxy's logged-out answers (tool results, errors). */
const LOGIN_TEXT = /log in to \S+ before its tools can be used(?:\. Open this link to log in: (\S+))?/;
/** Distinct login links a user follows at most before giving up (the proxy must stop asking first). */
const MAX_LOGINS = 6;
/** Attempts at one operation while the proxy is logged out (each after a login link was followed). */
const MAX_ATTEMPTS = 40;
const RETRY_MS = 250;
/**
 * Give up with a clear message before the suite stops the client (its
 * `--timeout`; `run-client.ts` gives 150 s, as scenarios start all at once).
 */
const DEADLINE_MS = Number(process.env.CONFORMANCE_CLIENT_DEADLINE_MS ?? 140_000);
/**
 * Longest a followed login link may take (authorize, the redirect to the
 * proxy, its token request): on a loaded 2-core machine, with every scenario
 * started at once, one took 12 s; the host's deadline bounds it anyway.
 */
const LOGIN_LINK_MS = 60_000;

const url = process.argv.at(-1);
if (!url?.startsWith("http")) {
  process.stderr.write("usage: conformance:client -- <server url>\n");
  process.exit(2);
}
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
const revision = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION ?? "2025-11-25";
const context = parseContext(process.env.MCP_CONFORMANCE_CONTEXT);
setTimeout(() => fail(`still running after ${DEADLINE_MS / 1000}s`), DEADLINE_MS).unref();

const home = mkdtempSync(join(tmpdir(), "mcpengine-conformance-"));
const bin = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
/**
 * The SDK probes the era of a plain `StdioClientTransport` on a second,
 * short-lived copy of the server process; any other transport is probed in
 * place. A host that starts its server once is what is modelled here: one
 * proxy, one login.
 */
class ProxyProcess extends StdioClientTransport {}
const transport = new ProxyProcess({
  command: process.execPath,
  args: [bin, "proxy", url, "--no-browser", ...proxyFlags()],
  env: { ...stringEnv(), MCPENGINE_HOME: home },
  stderr: "pipe",
});
const browser = createBrowser();
let pendingLine = "";
transport.stderr?.on("data", (chunk: Buffer) => {
  const lines = (pendingLine + chunk.toString("utf8")).split("\n");
  pendingLine = lines.pop() ?? "";
  for (const line of lines) {
    process.stderr.write(`${elapsed()} [proxy] ${line}\n`);
    const link = LOGIN_LINE.exec(line)?.[1];
    if (link) browser.open(link);
    const failure = LOGIN_FAILED.exec(line)?.[1];
    if (failure) browser.failed(failure);
  }
});

const client = new Client(
  { name: "mcpengine-conformance-host", version: "1.0.0" },
  {
    capabilities: { elicitation: { form: { applyDefaults: true } } },
    versionNegotiation: { mode: revision === "2026-07-28" ? { pin: revision } : "legacy" },
  },
);
// The user accepts every form as it comes; the SDK fills in the schema's defaults.
client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: {} }));

let failed = false;
try {
  await client.connect(transport);
  log(`connected (${client.getNegotiatedProtocolVersion() ?? "?"}) for ${scenario || "no scenario"}`);
  const { tools } = await untilLoggedIn("tools/list", () =>
    client.listTools(undefined, { cacheMode: "bypass" }),
  );
  // The calls the scenario asks for, else every tool listed, with arguments made from its schema.
  const calls =
    toolCallsOf(context) ?? tools.map((t) => ({ name: t.name, arguments: argumentsFor(t.inputSchema) }));
  for (const call of calls) {
    const result = await untilLoggedIn(`tools/call ${call.name}`, () => client.callTool(call));
    log(`${call.name}: ${JSON.stringify(result.content).slice(0, 200)}`);
    if (result.isError) failed = true;
  }
} catch (err) {
  failed = true;
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await client.close().catch(() => {});
  rmSync(home, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/**
 * Runs `operation` until its answer is not the proxy's logged-out one: each
 * time it is, follows the login link (if the answer holds one) and waits for
 * the browser to be done before asking again.
 */
async function untilLoggedIn<T>(what: string, operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const answer = await operation();
    const link = loginLinkIn(answer);
    if (link === undefined) return answer;
    if (attempt >= MAX_ATTEMPTS) throw new Error(`${what}: still logged out after ${attempt} attempts`);
    if (link !== "") browser.open(link);
    await browser.settled();
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Flags a user would put in the host's config for this server. */
function proxyFlags(): string[] {
  const flags: string[] = [];
  if (typeof context.client_id === "string") flags.push("--client-id", context.client_id);
  if (typeof context.client_secret === "string") flags.push("--client-secret", context.client_secret);
  if (scenario === "auth/basic-cimd") flags.push("--client-metadata-url", CIMD_URL);
  // A service's host, no user: the client's own tokens (client_secret_basic; private_key_jwt has no flag).
  if (scenario.startsWith("auth/client-credentials") && typeof context.client_secret === "string") {
    flags.push("--client-credentials");
  }
  return flags;
}

/** Arguments that satisfy a tool's input schema: a value for each property, by its type. */
function argumentsFor(schema: { properties?: { [name: string]: unknown } | undefined }): {
  [name: string]: unknown;
} {
  const args: { [name: string]: unknown } = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const p = (property ?? {}) as { type?: unknown; default?: unknown; enum?: unknown[] };
    if (p.default !== undefined) args[name] = p.default;
    else if (Array.isArray(p.enum) && p.enum.length > 0) args[name] = p.enum[0];
    else if (p.type === "number" || p.type === "integer") args[name] = 2;
    else if (p.type === "boolean") args[name] = true;
    else if (p.type === "string") args[name] = "conformance";
  }
  return args;
}

/**
 * The logged-out answer's login link: the link, "" when the proxy says the
 * login is starting (no link yet), undefined when `answer` is a real answer.
 */
function loginLinkIn(answer: unknown): string | undefined {
  const { tools, content } = answer as { tools?: { name?: unknown }[]; content?: { text?: unknown }[] };
  for (const part of Array.isArray(content) ? content : []) {
    const match = typeof part?.text === "string" ? LOGIN_TEXT.exec(part.text) : null;
    if (match) return match[1] ?? "";
  }
  return Array.isArray(tools) && tools.length === 1 && tools[0]?.name === "login" ? "" : undefined;
}

/** The user at a browser: follows each login link once, to the end of its redirects. */
function createBrowser() {
  const opened = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  return {
    open(link: string): void {
      if (opened.has(link)) return;
      opened.add(link);
      if (opened.size > MAX_LOGINS) {
        failure ??= new Error(`the proxy asked for more than ${MAX_LOGINS} logins`);
        return;
      }
      log(`following the login link ${link}`);
      const visit = fetch(link, { redirect: "follow", signal: AbortSignal.timeout(LOGIN_LINK_MS) })
        .then(async (res) => {
          const page = await res.text();
          if (!res.ok)
            throw new Error(`the login ended on HTTP ${res.status}: ${page.replace(/<[^>]*>/g, "")}`);
          log("the login page says we are logged in");
        })
        .catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new Error(String(err));
          log(`login failed: ${failure.message}`);
        })
        .finally(() => inFlight.delete(visit));
      inFlight.add(visit);
    },
    /** The user reads that the login failed (the proxy says so), and gives up. */
    failed(reason: string): void {
      failure ??= new Error(`the proxy says the login failed: ${reason}`);
    },
    /** Waits for the links being followed; throws if a login failed. */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all(inFlight);
      if (failure) throw failure;
    },
  };
}

/** `toolCalls` of the scenario's context: the calls it wants made, with their arguments. */
function toolCallsOf(ctx: {
  [key: string]: unknown;
}): { name: string; arguments: { [k: string]: unknown } }[] | undefined {
  if (!Array.isArray(ctx.toolCalls)) return undefined;
  return ctx.toolCalls.flatMap((c: { name?: unknown; arguments?: unknown } | null) =>
    typeof c?.name === "string"
      ? [
          {
            name: c.name,
            arguments: (typeof c.arguments === "object" && c.arguments !== null ? c.arguments : {}) as {
              [k: string]: unknown;
            },
          },
        ]
      : [],
  );
}

function parseContext(text: string | undefined): { [key: string]: unknown } {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as { [key: string]: unknown }) : {};
  } catch {
    return {};
  }
}

function stringEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

function log(message: string): void {
  process.stderr.write(`${elapsed()} conformance host: ${message}\n`);
}

/** Seconds since the process started, for reading the logs of a slow run. */
function elapsed(): string {
  return `[${(performance.now() / 1000).toFixed(1)}s]`;
}

function fail(message: string): never {
  log(message);
  rmSync(home, { recursive: true, force: true });
  process.exit(1);
}
