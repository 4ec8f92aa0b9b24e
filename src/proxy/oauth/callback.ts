/**
 * The loopback redirect target of a native app's login (RFC 8252 §7.3): an
 * HTTP server on 127.0.0.1 that waits for the browser to come back to
 * `/callback` with the authorization response, answers it with a small page,
 * and hands the parameters to whoever decides what they mean.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { OAuthClientError } from "./errors.js";

/** The path of the redirect URI. */
export const CALLBACK_PATH = "/callback";

const OVER = "No login is waiting for this link; it may be over already. You can close this tab.";

/** What to make of one request to the callback. */
export type CallbackVerdict<T> =
  /** The login is over: this value is the result; the browser is told it may close the tab. */
  | { readonly kind: "done"; readonly value: T }
  /** Not ours (a stale tab, a forged link): answer with `message` and keep waiting. */
  | { readonly kind: "ignore"; readonly message: string }
  /** The login failed: answer with `message`, and the wait rejects with `error`. */
  | { readonly kind: "fail"; readonly message: string; readonly error: Error };

/** A running callback server. */
export interface CallbackServer {
  /** `http://127.0.0.1:<port>/callback`. */
  readonly redirectUri: string;
  readonly port: number;
  /**
   * Waits for the redirect. `decide` runs once per request to the callback,
   * one at a time; rejects with `login_timeout` after `timeoutMs`.
   */
  wait<T>(decide: (params: URLSearchParams) => Promise<CallbackVerdict<T>>, timeoutMs: number): Promise<T>;
  close(): Promise<void>;
}

/**
 * Starts the callback server on 127.0.0.1 — never a wildcard address, so no
 * other machine can deliver a code. `port` 0 or undefined: a free port.
 * `fallback`: when `port` is taken, use a free one instead of failing.
 */
export async function startCallbackServer(port = 0, fallback = false): Promise<CallbackServer> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else page(res, 410, OVER);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  try {
    await listen(port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    if (!fallback) {
      throw new OAuthClientError("callback_unavailable", `the login callback port ${port} is in use`, {
        cause: err,
      });
    }
    await listen(0);
  }
  const actual = (server.address() as AddressInfo).port;

  return {
    port: actual,
    redirectUri: `http://127.0.0.1:${actual}${CALLBACK_PATH}`,
    wait<T>(decide: (params: URLSearchParams) => Promise<CallbackVerdict<T>>, timeoutMs: number) {
      return new Promise<T>((resolve, reject) => {
        let busy = Promise.resolve();
        const timer = setTimeout(() => {
          handler = undefined;
          reject(
            new OAuthClientError("login_timeout", `nobody completed the login within ${timeoutMs / 1000} s`),
          );
        }, timeoutMs);
        handler = (req, res) => {
          // URL.parse, not new URL: a request line such as `GET //x:99999` must not throw in a listener.
          const url = URL.parse(req.url ?? "/", "http://127.0.0.1");
          if (!url || req.method !== "GET" || url.pathname !== CALLBACK_PATH) {
            page(res, 404, "Not found.");
            return;
          }
          // One decision at a time: a code is redeemed once even if the browser sends it twice.
          busy = busy.then(async () => {
            if (!handler) {
              page(res, 410, OVER);
              return;
            }
            const verdict = await decide(url.searchParams).catch(
              (err: unknown): CallbackVerdict<T> => ({
                kind: "fail",
                message: "The login failed.",
                error: err instanceof Error ? err : new Error(String(err)),
              }),
            );
            switch (verdict.kind) {
              case "ignore":
                page(res, 400, verdict.message);
                return;
              case "fail":
                handler = undefined;
                clearTimeout(timer);
                page(res, 400, verdict.message);
                reject(verdict.error);
                return;
              case "done":
                handler = undefined;
                clearTimeout(timer);
                page(res, 200, "You are logged in. You can close this tab.");
                resolve(verdict.value);
                return;
            }
          });
        };
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        handler = undefined;
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function page(res: ServerResponse, status: number, message: string): void {
  const text = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The page runs nothing and embeds nothing.
    "content-security-policy": "default-src 'none'",
    "referrer-policy": "no-referrer",
  });
  res.end(
    `<!doctype html><meta charset="utf-8"><title>MCPEngine login</title>` +
      `<p style="font-family:sans-serif;margin:3em auto;max-width:30em">${text}</p>\n`,
  );
}
