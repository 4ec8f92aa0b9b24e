/**
 * One proxy process's OAuth client, for tests that run several at once:
 * `node --import tsx oauth-child.ts <server-url> <home>`. It meets the
 * server's 401, logs in (or waits for another process's login), and prints
 * JSON lines on stdout: `{"loginUrl": …}` when it shows a login link, then
 * `{"token": <sha256 of the Authorization header>}` — never the token itself.
 */
import { createHash } from "node:crypto";
import { createOAuthClient } from "../../src/proxy/oauth/client.js";
import { statelessRequest } from "./stateless.js";

const [serverArg, home] = process.argv.slice(2);
if (!serverArg || !home) throw new Error("usage: oauth-child.ts <server-url> <home>");
const serverUrl = new URL(serverArg);
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = createOAuthClient({
  serverUrl,
  home,
  onLoginUrl: (url) => print({ loginUrl: url.href }),
  log: (message) => process.stderr.write(`${message}\n`),
});
const request = statelessRequest(1, "tools/list");
const res = await fetch(serverUrl, { method: "POST", headers: request.headers, body: request.body });
await res.body?.cancel();
if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`);
print({ challenged: await client.challenged(401, res.headers.get("www-authenticate")) });
await client.loggedIn();
const authorization = (await client.authorization()) ?? "";
print({ token: createHash("sha256").update(authorization).digest("hex") });
process.exit(0);
