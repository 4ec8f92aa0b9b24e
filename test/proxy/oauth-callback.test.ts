import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { type CallbackVerdict, startCallbackServer } from "../../src/proxy/oauth/callback.js";
import { rawExchange } from "../support/raw-http.js";

const done = <T>(value: T): CallbackVerdict<T> => ({ kind: "done", value });

describe("the loopback callback", () => {
  it("listens on 127.0.0.1 at /callback and tells the browser it may close the tab", async () => {
    const callback = await startCallbackServer();
    expect(callback.redirectUri).toBe(`http://127.0.0.1:${callback.port}/callback`);
    const result = callback.wait(async (params) => done(params.get("code")), 5_000);
    const res = await fetch(`${callback.redirectUri}?code=abc&state=s`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'");
    expect(await res.text()).toContain("You can close this tab");
    expect(await result).toBe("abc");
    await callback.close();
  });

  it("answers a request line that is not a URL with 404 and keeps waiting, instead of throwing", async () => {
    const callback = await startCallbackServer();
    const result = callback.wait(async (params) => done(params.get("code")), 5_000);
    const answer = await rawExchange(
      callback.redirectUri,
      "GET //x:99999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 404/);
    expect((await fetch(`${callback.redirectUri}?code=ok&state=s`)).status).toBe(200);
    expect(await result).toBe("ok");
    await callback.close();
  });

  it("answers other paths with 404, ignored requests with 400, and keeps waiting", async () => {
    const callback = await startCallbackServer();
    const result = callback.wait(async (params) => {
      return params.get("state") === "good" ? done("ok") : { kind: "ignore", message: "Not <ours>." };
    }, 5_000);
    expect((await fetch(`http://127.0.0.1:${callback.port}/elsewhere`)).status).toBe(404);
    const ignored = await fetch(`${callback.redirectUri}?state=bad`);
    expect(ignored.status).toBe(400);
    expect(await ignored.text()).toContain("Not &#60;ours&#62;.");
    expect((await fetch(`${callback.redirectUri}?state=good`)).status).toBe(200);
    expect(await result).toBe("ok");
    expect((await fetch(`${callback.redirectUri}?state=good`)).status).toBe(410);
    await callback.close();
  });

  it("rejects the wait with the failure and shows the browser why", async () => {
    const callback = await startCallbackServer();
    const result = callback.wait(
      async () => ({ kind: "fail", message: "The login failed: nope", error: new Error("nope") }),
      5_000,
    );
    const outcome = result.then(
      () => "done",
      (err: Error) => err.message,
    );
    const res = await fetch(callback.redirectUri);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("The login failed: nope");
    expect(await outcome).toBe("nope");
    await callback.close();
  });

  it("gives up after the timeout", async () => {
    const callback = await startCallbackServer();
    await expect(callback.wait(async () => done(1), 50)).rejects.toMatchObject({ code: "login_timeout" });
    await callback.close();
  });

  it("uses the port asked for, and another one only when allowed to", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as { port: number }).port;
    await expect(startCallbackServer(taken)).rejects.toMatchObject({ code: "callback_unavailable" });
    const moved = await startCallbackServer(taken, true);
    expect(moved.port).not.toBe(taken);
    await moved.close();
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });
});
