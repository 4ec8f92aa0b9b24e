import { appendFileSync } from "node:fs";
import { VERSION } from "../version.js";
import { createBridge } from "./bridge.js";
import { openBrowser } from "./browser.js";
import { connectForSessionHost, connectForStatelessHost } from "./connect.js";
import { createOAuthClient } from "./oauth/client.js";
import { createWriter, readMessages } from "./stdio.js";

/** Settings of `mcpengine proxy <url>` (each a command-line flag). */
export interface ProxySettings {
  readonly url: URL;
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly clientMetadataUrl?: string;
  readonly tokenEndpointAuth?: "client_secret_basic" | "client_secret_post" | "none";
  readonly callbackPort?: number;
  /** Log in with the device authorization grant (RFC 8628): no loopback redirect. */
  readonly device?: boolean;
  /** No user: the pre-registered client's own tokens (client credentials grant). */
  readonly clientCredentials?: boolean;
  readonly scopes: readonly string[];
  /** Send RFC 8707 `resource` (off for IdPs that reject it, e.g. Entra ID v2). */
  readonly resource: boolean;
  /** Open the login link in a browser (else only print it). */
  readonly browser: boolean;
  /** Also append log lines to this file. */
  readonly logFile?: string;
  /** Token store root (default `MCPENGINE_HOME` or `~/.mcpengine`). */
  readonly home?: string;
}

/** How long a logged-out answer waits for the login link before saying the login is starting. */
const LINK_WAIT_MS = 5_000;

/**
 * Runs the proxy: JSON-RPC lines on stdin/stdout to and from the remote MCP
 * server, OAuth login when it asks for one. stdout carries only protocol
 * messages; logs go to stderr (and `logFile`). Resolves with the exit code
 * once stdin ends or the process is told to stop (SIGTERM, SIGINT), after the
 * remote session is closed.
 */
export async function runProxy(settings: ProxySettings): Promise<number> {
  const log = (message: string) => {
    const line = `mcpengine proxy: ${message}\n`;
    process.stderr.write(line);
    if (settings.logFile) {
      try {
        appendFileSync(settings.logFile, `${new Date().toISOString()} ${line}`);
      } catch {
        // A log file that cannot be written must not stop the proxy.
      }
    }
  };
  const linkWaiters: ((url: URL) => void)[] = [];
  let announced: string | undefined;
  const oauth = createOAuthClient({
    serverUrl: settings.url,
    ...(settings.home ? { home: settings.home } : {}),
    ...(settings.clientId ? { clientId: settings.clientId } : {}),
    ...(settings.clientSecret ? { clientSecret: settings.clientSecret } : {}),
    ...(settings.clientMetadataUrl ? { clientMetadataUrl: settings.clientMetadataUrl } : {}),
    ...(settings.callbackPort !== undefined ? { callbackPort: settings.callbackPort } : {}),
    ...(settings.tokenEndpointAuth ? { tokenEndpointAuth: settings.tokenEndpointAuth } : {}),
    ...(settings.device ? { deviceAuthorization: true } : {}),
    ...(settings.clientCredentials ? { clientCredentials: true } : {}),
    resource: settings.resource,
    scopes: settings.scopes,
    log,
    onLoginUrl(url) {
      if (announced !== url.href) {
        announced = url.href;
        const opened = settings.browser && openBrowser(url);
        log(
          `log in to ${settings.url.origin}${opened ? " in the browser window just opened, or" : ""} at ${url.href}`,
        );
      }
      for (const wake of linkWaiters.splice(0)) wake(url);
    },
  });
  const write = createWriter(process.stdout);
  const info = { name: "mcpengine-proxy", version: VERSION };
  const context = { url: settings.url, auth: oauth, log, info };
  const bridge = createBridge({
    url: settings.url,
    info,
    write,
    log,
    login: {
      loggedIn: () => oauth.loggedIn(),
      async loginUrl() {
        const now = oauth.loginUrl();
        if (now) return now;
        return new Promise<URL | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), LINK_WAIT_MS);
          timer.unref();
          linkWaiters.push((url) => {
            clearTimeout(timer);
            resolve(url);
          });
        });
      },
    },
    connect: (first, onMessage, hostEra) =>
      hostEra === "session"
        ? connectForSessionHost(context, first, onMessage)
        : connectForStatelessHost(context, first, onMessage),
  });

  const stop = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  const input = readMessages(
    process.stdin,
    (m) => bridge.handle(m),
    (bad) => {
      log(`ignored a line from the host: ${bad.reason}`);
      if (bad.id !== null)
        write({ jsonrpc: "2.0", id: bad.id, error: { code: -32600, message: bad.reason } });
    },
  );
  await Promise.race([input, stop]);
  await bridge.close();
  process.stdin.destroy();
  return 0;
}
