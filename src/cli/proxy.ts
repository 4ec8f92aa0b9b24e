import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createOAuthClient } from "../proxy/oauth/client.js";
import { runProxy } from "../proxy/run.js";
import { configPath, installServer, serverName, snippet } from "./install.js";
import type { OptionSpecs, OptionValues } from "./options.js";

/**
 * The `mcpengine` launcher that host configs run with this Node: the one this
 * process was started from (`bin/mcpengine.js` of this checkout), else the
 * checkout's own.
 */
function launcher(): string {
  const started = process.argv[1];
  if (started?.endsWith("mcpengine.js") || started?.endsWith("mcpengine")) return realpathSync(started);
  return fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
}

/** Flags of `mcpengine proxy`. */
export const PROXY_OPTIONS = {
  "client-id": {
    type: "string",
    value: "id",
    otherwise: "a Client ID Metadata Document or dynamic registration",
    help: "A client pre-registered at the authorization server (IdPs without dynamic registration: Entra ID, Okta)",
  },
  "client-secret": {
    type: "string",
    value: "secret",
    otherwise: "a public client",
    help: "The pre-registered client's secret",
  },
  "client-metadata-url": {
    type: "string",
    value: "url",
    otherwise: "none",
    help: "An https URL serving this client's metadata document, used as its client_id where the server supports it",
  },
  "token-endpoint-auth": {
    type: "string",
    value: "method",
    otherwise: "client_secret_basic with a secret, else none",
    help: "How the pre-registered client authenticates at the token endpoint: client_secret_basic, client_secret_post or none",
  },
  device: {
    type: "boolean",
    help: "Log in with the device authorization grant (RFC 8628): open the link on any device, no loopback redirect",
  },
  "client-credentials": {
    type: "boolean",
    help: "No user: the pre-registered client (--client-id, --client-secret) gets its own tokens (headless services)",
  },
  "callback-port": {
    type: "string",
    value: "port",
    otherwise: "a free port",
    help: "Port of the loopback redirect (http://127.0.0.1:<port>/callback), for clients registered with a fixed one",
  },
  scope: {
    type: "string",
    value: "scopes",
    otherwise: "the server's challenge, else its scopes_supported",
    help: "Extra scopes to ask for, space- or comma-separated",
  },
  "no-resource": {
    type: "boolean",
    help: "Leave out the RFC 8707 resource parameter (for IdPs that reject it, e.g. Entra ID v2)",
  },
  "no-browser": {
    type: "boolean",
    help: "Only print the login link (stderr and tool results); open no browser",
  },
  "claude-desktop": { type: "boolean", help: "With install: add the server to Claude Desktop's config" },
  cursor: { type: "boolean", help: "With install: add the server to Cursor's ~/.cursor/mcp.json" },
  "claude-code": {
    type: "boolean",
    help: "With install: add the server to Claude Code's .mcp.json in this directory",
  },
  name: {
    type: "string",
    value: "name",
    otherwise: "from the URL's host",
    help: "With install: the server's name in the host",
  },
  "log-file": {
    type: "string",
    value: "file",
    otherwise: "stderr only",
    help: "Also append log lines to this file",
  },
} as const satisfies OptionSpecs;

/** `mcpengine proxy <url>`, `proxy logout <url>`, `proxy status <url>`. */
export async function runProxyCommand(
  values: OptionValues<typeof PROXY_OPTIONS>,
  positionals: readonly string[],
): Promise<number> {
  const [first, second] = positionals;
  const action = first === "logout" || first === "status" || first === "install" ? first : "run";
  const target = action === "run" ? first : second;
  if (target === undefined) throw new Error(`give the server's URL: mcpengine proxy ${action} <url>`);
  if (action === "run" && second !== undefined) throw new Error(`unexpected argument "${second}"`);
  const url = parseUrl(target);
  const port = values["callback-port"];
  const callbackPort = port === undefined ? undefined : Number(port);
  if (
    callbackPort !== undefined &&
    !(Number.isInteger(callbackPort) && callbackPort > 0 && callbackPort < 65536)
  ) {
    throw new Error(`--callback-port must be a port number, got "${port}"`);
  }
  const auth = values["token-endpoint-auth"];
  if (
    auth !== undefined &&
    auth !== "client_secret_basic" &&
    auth !== "client_secret_post" &&
    auth !== "none"
  ) {
    throw new Error(
      `--token-endpoint-auth must be client_secret_basic, client_secret_post or none, got "${auth}"`,
    );
  }
  if (values["client-credentials"] && !(values["client-id"] && values["client-secret"])) {
    throw new Error("--client-credentials needs --client-id and --client-secret");
  }
  if (action === "install") return install(url, values);
  if (action !== "run") {
    const client = createOAuthClient({ serverUrl: url, onLoginUrl: () => {} });
    if (action === "logout") {
      await client.logout();
      process.stderr.write(`mcpengine proxy: forgot the login for ${url.href}\n`);
      return 0;
    }
    const s = await client.status();
    const until = s.expiresAt ? `, token valid until ${new Date(s.expiresAt * 1000).toISOString()}` : "";
    process.stdout.write(
      s.loggedIn
        ? `${url.href}: logged in at ${s.issuer ?? "?"}${until}${s.scopes?.length ? `, scopes ${s.scopes.join(" ")}` : ""}\n`
        : `${url.href}: not logged in\n`,
    );
    return 0;
  }
  return runProxy({
    url,
    ...(values["client-id"] ? { clientId: values["client-id"] } : {}),
    ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
    ...(values["client-metadata-url"] ? { clientMetadataUrl: values["client-metadata-url"] } : {}),
    ...(callbackPort !== undefined ? { callbackPort } : {}),
    ...(auth ? { tokenEndpointAuth: auth } : {}),
    ...(values.device ? { device: true } : {}),
    ...(values["client-credentials"] ? { clientCredentials: true } : {}),
    scopes: (values.scope ?? "").split(/[\s,]+/).filter((s) => s !== ""),
    resource: !values["no-resource"],
    browser: !values["no-browser"],
    ...(values["log-file"] ? { logFile: values["log-file"] } : {}),
  });
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(
      `"${text}" is not a URL; give the server's MCP endpoint, e.g. https://mcp.example.com/mcp`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`the server's URL must be http(s), got ${url.protocol}`);
  }
  return url;
}

/**
 * `mcpengine proxy install <url> --claude-desktop | --cursor | --claude-code`:
 * adds the proxy for `url` to each named host's config (merged, the old file
 * kept as `.bak`); with no host named, prints the JSON entry to paste.
 */
function install(url: URL, values: OptionValues<typeof PROXY_OPTIONS>): number {
  const args = [launcher(), "proxy", url.href];
  for (const flag of [
    "client-id",
    "client-metadata-url",
    "callback-port",
    "scope",
    "token-endpoint-auth",
  ] as const) {
    const v = values[flag];
    if (v !== undefined) args.push(`--${flag}`, v);
  }
  if (values["client-secret"]) {
    throw new Error("--client-secret is not written into host configs; set it in the entry's env by hand");
  }
  for (const flag of ["no-resource", "no-browser", "device"] as const)
    if (values[flag]) args.push(`--${flag}`);
  const entry = { command: process.execPath, args };
  const name = values.name ?? serverName(url);
  const hosts = (["claude-desktop", "cursor", "claude-code"] as const).filter((h) => values[h]);
  if (hosts.length === 0) {
    process.stdout.write(snippet(name, entry));
    process.stderr.write(
      "mcpengine proxy: add this to your host's MCP servers, or rerun with --claude-desktop, --cursor or --claude-code\n",
    );
    return 0;
  }
  for (const host of hosts) {
    const done = installServer(configPath(host), name, entry);
    process.stderr.write(
      `mcpengine proxy: ${done.replaced ? "replaced" : "added"} "${name}" in ${done.path}` +
        `${done.backup ? ` (previous file kept as ${done.backup})` : ""}; restart the host to load it\n`,
    );
  }
  return 0;
}
