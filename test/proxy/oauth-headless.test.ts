import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completeDeviceLogin } from "../support/browser-login.js";
import { CLIENT } from "../support/idp.js";
import { callTool, type OAuthRig, startOAuthRig, until } from "../support/oauth-rig.js";

let rig: OAuthRig;
beforeAll(async () => {
  rig = await startOAuthRig();
});
afterAll(async () => {
  await rig?.close();
});

describe("logging in without a browser on this machine", () => {
  it("uses the device authorization grant, with the resource, when asked to", async () => {
    const { oauth, links, logs } = rig.client({ deviceAuthorization: true });
    const before = rig.idp.requests.length;
    const refused = await callTool(rig.full.url, oauth, "list_channels");
    expect(await oauth.challenged(401, refused.headers.get("www-authenticate"))).toBe("login");
    await until(() => oauth.loginUrl() !== undefined, "the verification link");
    const link = oauth.loginUrl() as URL;
    expect(link.origin).toBe(rig.idp.issuer);
    expect(link.searchParams.get("user_code")).toBeTruthy();
    expect(logs.join("\n")).toContain(link.searchParams.get("user_code") ?? "?");
    expect(await completeDeviceLogin(link)).toMatch(/Sign-in Success/);
    await oauth.loggedIn();
    expect(links).toHaveLength(1);

    const seen = rig.requestsSince(before);
    expect(seen.find((r) => r.route === "device_authorization")?.params).toMatchObject({
      resource: rig.full.url.href,
      scope: "smack.read smack.write offline_access",
    });
    expect(seen.filter((r) => r.route === "authorization")).toEqual([]);
    const grant = seen.findLast((r) => r.route === "token")?.params;
    expect(grant).toMatchObject({
      grant_type: "urn:ietf:params:oauth:grant-type:device_code",
      resource: rig.full.url.href,
    });
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
  });

  it("gets its own token with client credentials: no login link, resource sent", async () => {
    const { oauth, links } = rig.client({
      clientCredentials: true,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
    });
    const before = rig.idp.requests.length;
    expect((await callTool(rig.full.url, oauth, "list_channels")).status).toBe(200);
    expect(links).toEqual([]);
    expect(oauth.loginUrl()).toBeUndefined();
    const grant = rig.requestsSince(before).find((r) => r.route === "token")?.params;
    expect(grant).toMatchObject({ grant_type: "client_credentials", resource: rig.full.url.href });
    expect(await oauth.status()).toMatchObject({ loggedIn: true, issuer: rig.idp.issuer });
  });

  it("steps up with client credentials by asking for the scopes the server wants", async () => {
    const { oauth } = rig.client({
      serverUrl: rig.readOnly.url,
      clientCredentials: true,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
    });
    const write = () => callTool(rig.readOnly.url, oauth, "write_to_channel", { channel: "cc", text: "hi" });
    const refused = await write();
    expect(refused.status).toBe(403);
    expect(await oauth.challenged(403, refused.headers.get("www-authenticate"))).toBe("retry");
    expect((await oauth.status()).scopes?.sort()).toEqual(["smack.read", "smack.write"]);
    expect((await write()).status).toBe(200);
  });

  it("refuses client credentials without a client secret", () => {
    expect(() => rig.client({ clientCredentials: true, clientId: CLIENT.id })).toThrow(/clientSecret/);
  });
});
