import { execFile } from "node:child_process";
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type DemoProcess, startDemoProcess, until } from "./run-demo.js";

/**
 * The demo as issue #14 describes its use: `mcpengine demo` runs, a host spawns
 * `mcpengine proxy <url>` (the entry the banner prints), and a person logs in
 * with headless Chromium at the link the proxy hands out, as alice (reads and
 * writes) and as bob (read-only, who meets the step-up path when he writes).
 *
 * The login and consent pages are photographed on the way into a temporary
 * folder; with UPDATE_SCREENSHOTS=1 they are copied to docs/images/ (kept in
 * the repository for the docs), so CI never changes the tree.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = onPath("chromium");
/** Only a developer's machine may lack the browser; CI installs it (`.ci/run`) and must run this file. */
const SKIP =
  CHROMIUM === undefined && !process.env.CI
    ? "chromium is not on PATH (Debian: apt-get install chromium); CI always runs this file"
    : undefined;
if (SKIP) console.warn(`demo-browser.test.ts is skipped: ${SKIP}`);

const SHOTS = mkdtempSync(join(tmpdir(), "mcpengine-demo-shots-"));
const SCREENSHOTS = { login: "demo-login.png", consent: "demo-consent.png" } as const;
/**
 * Free ports, except when photographing for the docs: then the default ones, so the pictures show
 * the URL a reader's own `npm run demo` prints.
 */
const PORTS = process.env.UPDATE_SCREENSHOTS === "1" ? [] : ["--port", "0", "--idp-port", "0"];
const ALL_TOOLS = ["list_channels", "read_channel", "watch_channel", "write_to_channel"];

type TextBlock = { type: string; text?: string };
const text = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as TextBlock[]).map((c) => c.text ?? "").join("\n");
/** The login link in a logged-out tool answer, if it has one. */
const linkIn = (answer: string) => /Open this link to log in: (\S+)/.exec(answer)?.[1];

describe.skipIf(SKIP !== undefined)(
  `the Smack demo with a login in headless Chromium${SKIP ? ` (skipped: ${SKIP})` : ""}`,
  () => {
    const homes = mkdtempSync(join(tmpdir(), "mcpengine-demo-e2e-"));
    let demo: DemoProcess;
    let browser: Browser;

    beforeAll(async () => {
      if (CHROMIUM === undefined)
        throw new Error("chromium is not on PATH; .ci/run installs it (ensure_chromium)");
      [demo, browser] = await Promise.all([
        startDemoProcess(PORTS, { MCPENGINE_HOME: join(homes, "demo") }),
        chromium.launch({
          // Debian's build, never one Playwright downloads.
          executablePath: CHROMIUM,
          args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        }),
      ]);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      if (demo && demo.child.exitCode === null) {
        demo.child.kill("SIGINT");
        expect(await demo.exited).toEqual({ code: 0, signal: null });
      }
      if (process.env.UPDATE_SCREENSHOTS === "1") {
        const images = join(ROOT, "docs", "images");
        mkdirSync(images, { recursive: true });
        for (const name of Object.values(SCREENSHOTS)) copyFileSync(join(SHOTS, name), join(images, name));
      }
      rmSync(homes, { recursive: true, force: true });
      rmSync(SHOTS, { recursive: true, force: true });
    }, 30_000);

    /**
     * A stdio host running the proxy with the command line the banner prints
     * (plus `--no-browser`: the test is the browser), its own token store.
     */
    async function host(user: string) {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "proxy", demo.url, "--no-browser"],
        env: { ...process.env, MCPENGINE_HOME: join(homes, user) } as Record<string, string>,
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
        stderr: () => stderr,
        listChanged: () => listChanged,
        tools: async () => (await client.listTools()).tools.map((t) => t.name),
        call: async (name: string, args: Record<string, unknown> = {}) =>
          client.callTool({ name, arguments: args }),
      };
    }

    /**
     * Logs in at `link` in a fresh browser profile: the demo IdP's login form,
     * its consent page (whose text is returned), then the proxy's callback.
     */
    async function logIn(link: string, login: string, password: string, photograph = false) {
      const context = await browser.newContext({
        viewport: { width: 760, height: 640 },
        deviceScaleFactor: 1,
      });
      // Only loopback is visited: anything else (there should be nothing) is refused at once.
      await context.route(
        (url) => url.hostname !== "127.0.0.1",
        (route) => route.abort(),
      );
      try {
        const page = await context.newPage();
        await page.goto(link);
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        await page.getByLabel("User name").fill(login);
        await page.getByLabel("Password").fill(password);
        if (photograph) await page.screenshot({ path: join(SHOTS, SCREENSHOTS.login), fullPage: true });
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Authorize" }).waitFor();
        // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered, as the user reads it.
        const consent = (await page.locator("main").innerText()).replace(/\s+/g, " ");
        if (photograph) await page.screenshot({ path: join(SHOTS, SCREENSHOTS.consent), fullPage: true });
        await page.getByRole("button", { name: "Allow" }).click();
        await page.waitForURL((url) => url.pathname === "/callback");
        return { consent, callback: (await page.locator("body").textContent())?.trim() ?? "" };
      } finally {
        await context.close();
      }
    }

    it("logs alice in through the proxy; she writes to a channel and reads it back as its author", async () => {
      const h = await host("alice");
      try {
        // Logged out: the tool call answers with the login link at once.
        const link = linkIn(text(await h.call("write_to_channel", { channel: "general", text: "x" })));
        expect(link, h.stderr()).toBeDefined();
        const { consent, callback } = await logIn(link as string, "alice", "wonderland", true);
        expect(consent).toContain("MCPEngine proxy asks to use Smack as Alice (alice)");
        expect(consent).toContain("smack.write Post messages in your name");
        expect(consent).not.toContain("Not allowed");
        expect(callback).toContain("You are logged in");
        await until(() => h.listChanged() > 0, 15_000, "tools/list_changed after the login");
        expect(await h.tools()).toEqual(ALL_TOOLS);

        const channel = `e2e-${Math.random().toString(36).slice(2, 8)}`;
        const wrote = await h.call("write_to_channel", { channel, text: "hello from the browser test" });
        expect(wrote.isError, text(wrote)).toBeFalsy();
        const read = (await h.call("read_channel", { channel })) as {
          structuredContent?: { messages?: { author: string; text: string }[] };
        };
        expect(read.structuredContent?.messages).toEqual([
          expect.objectContaining({ author: "alice", text: "hello from the browser test" }),
        ]);
      } finally {
        await h.client.close();
      }
      expect(await fileExists(join(SHOTS, SCREENSHOTS.login))).toBe(true);
      expect(await fileExists(join(SHOTS, SCREENSHOTS.consent))).toBe(true);
    }, 120_000);

    it("runs the Inspector CLI command the banner prints, on alice's stored login", async () => {
      const printed = /npx @modelcontextprotocol\/inspector --cli (.+) --method tools\/list/.exec(
        demo.out(),
      )?.[1];
      expect(printed).toBe(`${process.execPath} ${BIN} proxy ${demo.url}`);
      const launcher = join(
        dirname(createRequire(import.meta.url).resolve("@modelcontextprotocol/inspector/package.json")),
        "clients",
        "launcher",
        "build",
        "index.js",
      );
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          launcher,
          "--cli",
          // The Inspector hands a stdio server only a few variables (HOME, PATH …): name the token store.
          "-e",
          `MCPENGINE_HOME=${join(homes, "alice")}`,
          ...(printed ?? "").split(" "),
          "--method",
          "tools/call",
          "--tool-name",
          "read_channel",
          "--tool-arg",
          "channel=general",
        ],
        {
          timeout: 60_000,
          env: { ...process.env, MCP_CATALOG_PATH: join(homes, "inspector.json") },
        },
      );
      const result = JSON.parse(stdout) as { structuredContent?: { messages?: { author: string }[] } };
      // The seed's three messages of #general.
      expect(result.structuredContent?.messages?.map((m) => m.author)).toEqual(["alice", "bob", "alice"]);
    }, 90_000);

    it("shows bob no write_to_channel, and starts a step-up login when he writes; he still gets no write", async () => {
      const h = await host("bob");
      try {
        const first = linkIn(text(await h.call("list_channels")));
        expect(first, h.stderr()).toBeDefined();
        const login = await logIn(first as string, "bob", "builder");
        // The consent says what he will not get.
        expect(login.consent).toContain("smack.write Not allowed for bob: left out of the token");
        expect(login.callback).toContain("You are logged in");
        await until(() => h.listChanged() > 0, 15_000, "tools/list_changed after the login");
        expect(await h.tools()).toEqual(["list_channels", "read_channel", "watch_channel"]);
        expect(text(await h.call("list_channels"))).toContain('"name":"general"');

        // The host calls the tool it was not shown: the gateway answers 403 insufficient_scope,
        // and the proxy starts a new login asking for smack.write besides what bob has.
        const answer = text(await h.call("write_to_channel", { channel: "general", text: "bob was here" }));
        const stepUp = linkIn(answer);
        expect(stepUp, `${answer}\n${h.stderr()}`).toBeDefined();
        expect(stepUp).not.toBe(first);
        expect(new URL(stepUp as string).searchParams.get("scope")?.split(" ")).toEqual(
          expect.arrayContaining(["smack.read", "smack.write"]),
        );
        expect(h.stderr()).toContain("needs the scope(s) smack.write: logging in again");
        // Meanwhile the host sees the proxy's login tool.
        expect(await h.tools()).toEqual(["login"]);

        // Bob logs in again: the provider still leaves smack.write out, so nothing changes for him.
        const changed = h.listChanged();
        const again = await logIn(stepUp as string, "bob", "builder");
        expect(again.consent).toContain("Not allowed for bob");
        await until(() => h.listChanged() > changed, 15_000, "tools/list_changed after the step-up login");
        expect(await h.tools()).toEqual(["list_channels", "read_channel", "watch_channel"]);
        const read = text(await h.call("read_channel", { channel: "general" }));
        expect(read).not.toContain("bob was here");
      } finally {
        await h.client.close();
      }
    }, 120_000);
  },
);

async function fileExists(path: string): Promise<boolean> {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

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
