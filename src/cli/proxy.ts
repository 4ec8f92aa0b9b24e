import { createOAuthClient } from "../proxy/oauth/client.js";
import { runProxy } from "../proxy/run.js";
import type { OptionSpecs, OptionValues } from "./main.js";

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
  const action = first === "logout" || first === "status" ? first : "run";
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
