import { afterEach, describe, expect, it, vi } from "vitest";
import type { Identity } from "../src/auth/index.js";
import { parseConfig } from "../src/config/index.js";
import { createBackendCredentials } from "../src/identity.js";

const ISSUER = "https://idp.example";
const config = parseConfig(`
listen: "127.0.0.1:8080"
auth: { issuer: "${ISSUER}", audience: "https://mcp.example/mcp", clientId: gw, clientSecret: s }
backends:
  - name: inv
    target: "http://127.0.0.1:50051"
    descriptors: reflection
    identity: { mode: exchange, exchangeAudience: "https://inv.example" }
`);

const caller: Identity = { subject: "alice", token: "caller-token", scopes: new Set(), claims: {} };

/** A fake IdP whose discovery endpoints fail while `down` is set. */
function idp() {
  const state = { down: true, discoveries: 0 };
  const fetchFn = (async (input: string | URL | Request) => {
    const url = String(input);
    if (url.includes("/.well-known/")) {
      state.discoveries++;
      if (state.down) return new Response("unavailable", { status: 503 });
      return Response.json({ issuer: ISSUER, token_endpoint: `${ISSUER}/token` });
    }
    if (url === `${ISSUER}/token`) return Response.json({ access_token: "backend-token", expires_in: 300 });
    return new Response("not found", { status: 404 });
  }) as typeof fetch;
  return { state, fetchFn };
}

describe("backend credentials in exchange mode", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("discovers the token endpoint again after a failed discovery, instead of failing forever", async () => {
    vi.useFakeTimers();
    const { state, fetchFn } = idp();
    const credentials = createBackendCredentials(config, fetchFn);
    await expect(credentials("inv", caller)).rejects.toThrow(/cannot discover the metadata/);
    const failedTries = state.discoveries;
    state.down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(credentials("inv", caller)).resolves.toMatchObject({
      authorization: "Bearer backend-token",
      "x-mcpengine-subject": "alice",
    });
    expect(state.discoveries).toBeGreaterThan(failedTries);
  });

  it("discovers once while the issuer answers", async () => {
    const { state, fetchFn } = idp();
    state.down = false;
    const credentials = createBackendCredentials(config, fetchFn);
    await credentials("inv", caller);
    await credentials("inv", { ...caller, token: "another" });
    expect(state.discoveries).toBe(1);
  });
});

describe("backend credentials after a reload", () => {
  it("follows the backend settings in use: a backend added later gets the caller's identity", () => {
    const added = parseConfig(`
listen: "127.0.0.1:8080"
auth: { issuer: "${ISSUER}", audience: "https://mcp.example/mcp" }
backends:
  - name: late
    target: "http://127.0.0.1:50052"
    identity: { mode: forward, claims: [team] }
`).backends[0];
    let current: typeof added | undefined;
    const credentials = createBackendCredentials(config, fetch, (name) =>
      name === "late" ? current : undefined,
    );
    const teamCaller = { ...caller, claims: { team: "payments" } };
    expect(credentials("late", teamCaller)).toBeUndefined();
    current = added;
    expect(credentials("late", teamCaller)).toEqual({
      "x-mcpengine-subject": "alice",
      "x-mcpengine-claim-team": "payments",
      authorization: "Bearer caller-token",
    });
  });
});
