import { accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../../src/proxy/oauth/store.js";
import { expireSoon, newHome, type OAuthRig, startOAuthRig, until } from "../support/oauth-rig.js";

/**
 * The proxy's login journey with a real browser: a host spawns the real
 * `mcpengine proxy` process for a gateway with auth on (oidc-provider as the
 * IdP, Smack behind), and headless Chromium logs in at the link the proxy
 * hands out, the way a user would. Then the token's life after the login:
 * a silent refresh, a revoked refresh token that costs exactly one new login,
 * and three proxies started together that share one login.
 */

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));
const CHROMIUM = onPath("chromium");
/** Only a developer's machine may lack the browser; CI installs it (`.ci/run`) and must run this file. */
const SKIP =
  CHROMIUM === undefined && !process.env.CI
    ? "chromium is not on PATH (Debian: apt-get install chromium); CI always runs this file"
    : undefined;
if (SKIP) console.warn(`proxy-browser.test.ts is skipped: ${SKIP}`);
/** The IdP's login page as Chromium rendered it, for a person to look at; never committed. */
const SCREENSHOT = join(tmpdir(), "mcpengine-proxy-browser-login.png");
const REAL_TOOLS = ["list_channels", "read_channel", "watch_channel", "write_to_channel"];

type TextBlock = { type: string; text?: string };
const text = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as TextBlock[]).map((c) => c.text ?? "").join("\n");
/** The login link in a logged-out tool answer, if it has one. */
const linkIn = (answer: string) => /Open this link to log in: (\S+)/.exec(answer)?.[1];

describe.skipIf(SKIP !== undefined)(
  `mcpengine proxy logging in with headless Chromium${SKIP ? ` (skipped: ${SKIP})` : ""}`,
  () => {
    let rig: OAuthRig;
    let browser: Browser;
    beforeAll(async () => {
      if (CHROMIUM === undefined)
        throw new Error("chromium is not on PATH; .ci/run installs it (ensure_chromium)");
      rig = await startOAuthRig();
      browser = await chromium.launch({
        // Debian's build, never one Playwright downloads.
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await rig?.close();
    });

    /** A stdio host running the real proxy process, as an LLM host would spawn it. */
    async function host(home: string) {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "proxy", rig.full.url.href, "--no-browser"],
        env: { ...process.env, MCPENGINE_HOME: home } as Record<string, string>,
        stderr: "pipe",
      });
      let stderr = "";
      transport.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      const client = new Client({ name: "stdio-host", version: "1.0.0" });
      let listChanged = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        listChanged++;
      });
      await client.connect(transport);
      return {
        client,
        listChanged: () => listChanged,
        /** The login links this proxy printed (it prints each link once). */
        links: () => [...stderr.matchAll(/log in to \S+ at (\S+)/g)].map((m) => m[1] as string),
        call: async (name: string, args: Record<string, unknown> = {}) =>
          client.callTool({ name, arguments: args }),
      };
    }

    /**
     * Logs in at `link` as `login` in a fresh browser profile (no IdP session
     * to reuse): the IdP's login form, then its consent page, then the proxy's
     * loopback callback. Returns what the callback page said.
     */
    async function logInWithChromium(link: string, login: string, screenshot?: string) {
      const context = await browser.newContext();
      // Only loopback is visited: the dev pages' web font (fonts.googleapis.com) is refused at once.
      await context.route(
        (url) => url.hostname !== "127.0.0.1",
        (route) => route.abort(),
      );
      try {
        const page = await context.newPage();
        await page.goto(link);
        await page.getByRole("heading", { name: "Sign-in" }).waitFor();
        await page.locator('input[name="login"]').fill(login);
        await page.locator('input[name="password"]').fill("any password");
        if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
        await page.getByRole("button", { name: "Sign-in" }).click();
        await page.getByRole("heading", { name: "Authorize" }).waitFor();
        await page.getByRole("button", { name: "Continue" }).click();
        await page.waitForURL((url) => url.pathname === "/callback");
        return (await page.locator("body").textContent())?.trim() ?? "";
      } finally {
        await context.close();
      }
    }

    /** Writes a message and reads it back; the author is whom the gateway saw. */
    async function writeAndRead(h: Awaited<ReturnType<typeof host>>) {
      const channel = `browser-${Math.random().toString(36).slice(2, 8)}`;
      const wrote = await h.call("write_to_channel", { channel, text: "hello" });
      expect(wrote.isError, text(wrote)).toBeFalsy();
      return text(await h.call("read_channel", { channel }));
    }

    it("logs in through the browser, refreshes silently, and logs in once more after a revocation", async () => {
      const home = newHome();
      const h = await host(home);
      try {
        // Logged out: the tool call answers with the link, at once.
        const codes = rig.idp.codesIssued;
        const answer = text(await h.call("write_to_channel", { channel: "x", text: "x" }));
        const link = linkIn(answer);
        expect(link, answer).toBeDefined();

        const done = await logInWithChromium(link as string, "alice", SCREENSHOT);
        expect(done).toContain("You are logged in");
        await until(() => h.listChanged() > 0, "tools/list_changed", 15_000);
        expect(rig.idp.codesIssued).toBe(codes + 1);
        expect((await h.client.listTools()).tools.map((t) => t.name)).toEqual(REAL_TOOLS);
        expect(await writeAndRead(h)).toContain('"author":"alice"');

        // The access token runs out: the next call refreshes it, with no user and no new code.
        const refreshes = rig.count("token", "refresh_token");
        const logins = rig.count("authorization");
        await expireSoon(home, rig.full.url, -1);
        expect(await writeAndRead(h)).toContain('"author":"alice"');
        expect(rig.count("token", "refresh_token")).toBe(refreshes + 1);
        expect(rig.count("authorization")).toBe(logins);
        expect(rig.idp.codesIssued).toBe(codes + 1);
        expect(h.links()).toHaveLength(1);

        // The refresh token is revoked and the access token runs out: exactly one new login.
        const tokens = (await createStore(home, rig.full.url).read())?.tokens;
        expect(tokens?.refresh_token).toBeDefined();
        await rig.idp.revoke(tokens?.refresh_token as string, tokens?.client_id as string);
        await expireSoon(home, rig.full.url, -1);
        const first = text(await h.call("list_channels"));
        const second = text(await h.call("read_channel", { channel: "x" }));
        const relogin = linkIn(first);
        expect(relogin, first).toBeDefined();
        expect(relogin).not.toBe(link);
        // Both calls point at the one login under way.
        expect(linkIn(second)).toBe(relogin);
        expect(rig.count("token", "refresh_token")).toBe(refreshes + 2);
        // A host that lists its tools meanwhile sees the login tool...
        expect((await h.client.listTools()).tools.map((t) => t.name)).toEqual(["login"]);
        const changed = h.listChanged();

        expect(await logInWithChromium(relogin as string, "alice")).toContain("You are logged in");
        // ...and is told to list them again once the login is done.
        await until(() => h.listChanged() > changed, "tools/list_changed after the new login", 15_000);
        expect((await h.client.listTools()).tools.map((t) => t.name)).toEqual(REAL_TOOLS);
        expect(await writeAndRead(h)).toContain('"author":"alice"');
        expect(rig.idp.codesIssued).toBe(codes + 2);
        expect(rig.count("authorization")).toBe(logins + 1);
        expect(h.links()).toEqual([link, relogin]);
      } finally {
        await h.client.close();
      }
    });

    it("gives three proxies started at the same moment one login between them", async () => {
      const home = newHome();
      const codes = rig.idp.codesIssued;
      const logins = rig.count("authorization");
      const hosts = await Promise.all([host(home), host(home), host(home)]);
      try {
        // Each host calls a tool; only the proxy that holds the login lock has a link to give.
        const answers = (await Promise.all(hosts.map((h) => h.call("list_channels")))).map(text);
        const links = answers.map(linkIn).filter((l) => l !== undefined);
        expect(links, answers.join("\n")).toHaveLength(1);
        expect(hosts.flatMap((h) => h.links())).toEqual(links);

        expect(await logInWithChromium(links[0] as string, "bob")).toContain("You are logged in");
        await until(
          () => hosts.every((h) => h.listChanged() > 0),
          "tools/list_changed in every host",
          15_000,
        );
        for (const h of hosts) {
          expect((await h.client.listTools()).tools.map((t) => t.name)).toEqual(REAL_TOOLS);
          expect(await writeAndRead(h)).toContain('"author":"bob"');
        }
        expect(rig.idp.codesIssued).toBe(codes + 1);
        expect(rig.count("authorization")).toBe(logins + 1);
      } finally {
        await Promise.all(hosts.map((h) => h.client.close()));
      }
    });
  },
);

/** The first executable called `name` on PATH. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
