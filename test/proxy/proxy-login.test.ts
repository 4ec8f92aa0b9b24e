import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completeLogin } from "../support/browser-login.js";
import { newHome, type OAuthRig, startOAuthRig, until } from "../support/oauth-rig.js";

const BIN = fileURLToPath(new URL("../../bin/mcpengine.js", import.meta.url));

type TextBlock = { type: string; text?: string };
const text = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as TextBlock[]).map((c) => c.text ?? "").join("\n");

/**
 * The user journey through the real proxy process: a stdio host spawns
 * `mcpengine proxy <url>` for a gateway with auth on; the tools are one
 * `login` tool until the user logs in at the link it gives; then the real
 * tools appear with no restart, and calls carry the user's identity.
 */
describe("mcpengine proxy in front of a gateway that needs a login", () => {
  let rig: OAuthRig;
  beforeAll(async () => {
    rig = await startOAuthRig();
  }, 60_000);
  afterAll(() => rig?.close());

  async function host(home: string) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "proxy", rig.full.url.href, "--no-browser"],
      env: { ...process.env, MCPENGINE_HOME: home } as Record<string, string>,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-host", version: "1.0.0" });
    let listChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      listChanged++;
    });
    await client.connect(transport);
    return { client, listChanged: () => listChanged };
  }

  it("answers at once with a login tool, then serves the real tools as the logged-in user", async () => {
    const home = newHome();
    const { client, listChanged } = await host(home);
    try {
      expect(client.getServerCapabilities()?.tools?.listChanged).toBe(true);
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["login"]);
      const answer = text(await client.callTool({ name: "write_to_channel", arguments: {} }));
      const link = /https?:\/\/\S+/.exec(answer.slice(answer.indexOf("Open this link")))?.[0];
      expect(link, answer).toBeDefined();

      const codes = rig.idp.codesIssued;
      await completeLogin(new URL(link as string), { login: "alice" });
      await until(() => listChanged() > 0, "tools/list_changed", 15_000);
      expect(rig.idp.codesIssued).toBe(codes + 1);

      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual([
        "list_channels",
        "read_channel",
        "watch_channel",
        "write_to_channel",
      ]);
      const channel = `login-${Math.random().toString(36).slice(2, 8)}`;
      const wrote = await client.callTool({
        name: "write_to_channel",
        arguments: { channel, text: "hello" },
      });
      expect(wrote.isError, text(wrote)).toBeFalsy();
      expect(text(await client.callTool({ name: "read_channel", arguments: { channel } }))).toContain(
        '"author":"alice"',
      );
    } finally {
      await client.close();
    }

    // A second host for the same server shares the stored login: no login tool, no new code.
    const codes = rig.idp.codesIssued;
    const again = await host(home);
    try {
      const { tools } = await again.client.listTools();
      expect(tools.map((t) => t.name)).toContain("read_channel");
      expect(rig.idp.codesIssued).toBe(codes);
    } finally {
      await again.client.close();
    }
  });
});
