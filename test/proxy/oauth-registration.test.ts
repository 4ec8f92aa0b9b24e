import type { AuthorizationServer } from "oauth4webapi";
import { describe, expect, it } from "vitest";
import {
  type ClientChoice,
  type ClientSettings,
  chooseClient,
  clientSecretBasic,
  DEVICE_CODE,
  registerClient,
  registrationMetadata,
} from "../../src/proxy/oauth/registration.js";
import type { ClientRegistration } from "../../src/proxy/oauth/store.js";

const REDIRECT = "http://127.0.0.1:4567/callback";
const AS: AuthorizationServer = {
  issuer: "https://id.example.com",
  authorization_endpoint: "https://id.example.com/authorize",
  token_endpoint: "https://id.example.com/token",
  registration_endpoint: "https://id.example.com/register",
};
const CIMD_AS: AuthorizationServer = { ...AS, client_id_metadata_document_supported: true };
const { registration_endpoint: _, ...NO_DCR } = AS;
const CIMD = "https://app.example.com/mcpengine.json";
const DYNAMIC: ClientRegistration = {
  kind: "dynamic",
  client_id: "dyn-1",
  token_endpoint_auth_method: "none",
  redirect_uris: [REDIRECT],
};

describe("choosing the client identity (MCP authorization, Client Registration)", () => {
  const cases: [string, AuthorizationServer, ClientSettings, ClientRegistration | undefined, ClientChoice][] =
    [
      [
        "a pre-registered public client before anything else",
        CIMD_AS,
        { clientId: "pre", clientMetadataUrl: CIMD },
        DYNAMIC,
        {
          kind: "use",
          registration: { kind: "preregistered", client_id: "pre", token_endpoint_auth_method: "none" },
        },
      ],
      [
        "client_secret_basic for a pre-registered secret where the server takes it",
        { ...AS, token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"] },
        { clientId: "pre", clientSecret: "s" },
        undefined,
        {
          kind: "use",
          registration: {
            kind: "preregistered",
            client_id: "pre",
            client_secret: "s",
            token_endpoint_auth_method: "client_secret_basic",
          },
        },
      ],
      [
        "client_secret_post where that is all the server takes",
        { ...AS, token_endpoint_auth_methods_supported: ["client_secret_post"] },
        { clientId: "pre", clientSecret: "s" },
        undefined,
        {
          kind: "use",
          registration: {
            kind: "preregistered",
            client_id: "pre",
            client_secret: "s",
            token_endpoint_auth_method: "client_secret_post",
          },
        },
      ],
      [
        "the method the user named",
        AS,
        { clientId: "pre", clientSecret: "s", tokenEndpointAuth: "client_secret_post" },
        undefined,
        {
          kind: "use",
          registration: {
            kind: "preregistered",
            client_id: "pre",
            client_secret: "s",
            token_endpoint_auth_method: "client_secret_post",
          },
        },
      ],
      [
        "the Client ID Metadata Document where the server supports them",
        CIMD_AS,
        { clientMetadataUrl: CIMD },
        DYNAMIC,
        {
          kind: "use",
          registration: { kind: "metadata-document", client_id: CIMD, token_endpoint_auth_method: "none" },
        },
      ],
      [
        "the stored registration where the server does not",
        AS,
        { clientMetadataUrl: CIMD },
        DYNAMIC,
        {
          kind: "use",
          registration: DYNAMIC,
        },
      ],
      [
        "a new registration when the stored one has another redirect URI",
        AS,
        {},
        { ...DYNAMIC, redirect_uris: ["http://127.0.0.1:1/callback"] },
        { kind: "register" },
      ],
      [
        "a new registration when the stored secret has expired",
        AS,
        {},
        { ...DYNAMIC, client_secret: "x", client_secret_expires_at: 1 },
        { kind: "register" },
      ],
      ["dynamic registration when nothing else is there", AS, {}, undefined, { kind: "register" }],
    ];
  it.each(cases)("chooses %s", (_name, as, settings, stored, expected) => {
    expect(chooseClient(as, settings, stored, REDIRECT)).toEqual(expected);
  });

  it("asks for a --client-id when the server offers no way to register", () => {
    const choice = chooseClient(NO_DCR, { clientMetadataUrl: CIMD }, undefined, REDIRECT);
    expect(choice.kind).toBe("none");
    expect(choice.kind === "none" && choice.reason).toMatch(/--client-id/);
  });

  it("registers as a public native app with its loopback redirect and asks for refresh tokens", () => {
    expect(registrationMetadata(AS, REDIRECT)).toMatchObject({
      application_type: "native",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
    expect(
      registrationMetadata({ ...AS, grant_types_supported: ["authorization_code"] }, REDIRECT).grant_types,
    ).toEqual(["authorization_code"]);
    expect(
      registrationMetadata(
        { ...AS, grant_types_supported: ["authorization_code", "refresh_token", DEVICE_CODE] },
        REDIRECT,
      ).grant_types,
    ).toEqual(["authorization_code", "refresh_token", DEVICE_CODE]);
  });
});

describe("registering and authenticating the client", () => {
  const answering = (status: number, body: object) => ({
    fetch: (async () =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      })) as typeof fetch,
  });

  it("takes a secret registered without client_secret_expires_at as one that never expires", async () => {
    const registration = await registerClient(
      answering(201, { client_id: "dyn-2", client_secret: "s3cret", redirect_uris: [REDIRECT] }),
      AS,
      REDIRECT,
    );
    expect(registration).toMatchObject({
      client_id: "dyn-2",
      client_secret: "s3cret",
      client_secret_expires_at: 0,
    });
  });

  it("still refuses a registration answer without a client_id", async () => {
    await expect(registerClient(answering(201, { client_secret: "s" }), AS, REDIRECT)).rejects.toThrow(
      /client_id/,
    );
  });

  const basic = (id: string, secret: string) => {
    const headers = new Headers();
    void clientSecretBasic(secret)(AS, { client_id: id }, new URLSearchParams(), headers);
    const value = headers.get("authorization") ?? "";
    return Buffer.from(value.replace(/^Basic /, ""), "base64").toString("utf8");
  };

  it.each([
    [
      "leaves the characters form encoding keeps (ids such as pre-registered-client)",
      "pre-registered_client.1",
      "s*-._",
      "pre-registered_client.1:s*-._",
    ],
    ["escapes a colon, spaces and other reserved characters", "a:b c", "p@ss/word", "a%3Ab+c:p%40ss%2Fword"],
    ["escapes non-ASCII as UTF-8", "caf\u00e9", "x", "caf%C3%A9:x"],
  ])("client_secret_basic %s (RFC 6749 §2.3.1)", (_name, id, secret, expected) => {
    expect(basic(id, secret)).toBe(expected);
  });
});
