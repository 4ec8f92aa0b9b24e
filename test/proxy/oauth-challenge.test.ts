import { describe, expect, it } from "vitest";
import { createChallenges } from "../../src/auth/challenge.js";
import { parseBearerChallenge, parseChallenges } from "../../src/proxy/oauth/challenge.js";

const PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

describe("reading WWW-Authenticate", () => {
  const cases: [string, string | null | undefined, ReturnType<typeof parseBearerChallenge>][] = [
    ["nothing when there is no header", null, undefined],
    ["nothing from an empty header", "", undefined],
    ["a bare Bearer challenge as empty", "Bearer", {}],
    [
      "quoted resource_metadata and scopes",
      `Bearer resource_metadata="${PRM}", scope="files:read files:write"`,
      { resourceMetadata: PRM, scopes: ["files:read", "files:write"] },
    ],
    [
      "an unquoted URL and an unquoted error",
      `Bearer error=invalid_token, resource_metadata=${PRM}`,
      { error: "invalid_token", resourceMetadata: PRM },
    ],
    [
      "commas and escaped quotes inside quoted values",
      'Bearer error="insufficient_scope", error_description="needs \\"a, b\\"", scope="a"',
      { error: "insufficient_scope", errorDescription: 'needs "a, b"', scopes: ["a"] },
    ],
    [
      "parameter names and the scheme in any case, with spaces around =",
      `bearer Resource_Metadata = "${PRM}" ,SCOPE= "x"`,
      { resourceMetadata: PRM, scopes: ["x"] },
    ],
    [
      "the Bearer challenge among others",
      `Basic realm="x", DPoP algs="ES256", Bearer scope="b", error="invalid_token"`,
      { scopes: ["b"], error: "invalid_token" },
    ],
    ["a Bearer challenge after a token68", `Negotiate abc==, Bearer scope="c"`, { scopes: ["c"] }],
    ["bare parameters (no scheme) as Bearer", `resource_metadata="${PRM}"`, { resourceMetadata: PRM }],
    ["the first of a repeated parameter", `Bearer scope="one", scope="two"`, { scopes: ["one"] }],
    ["no scopes from an empty scope", `Bearer scope="  "`, {}],
    ["what it can from an unterminated quote", `Bearer scope="a b`, { scopes: ["a", "b"] }],
    ["nothing from a header without Bearer", `Basic realm="x"`, undefined],
    ["nothing from garbage", `=,,"" ;;; ===`, undefined],
  ];
  it.each(cases)("reads %s", (_name, header, expected) => {
    expect(parseBearerChallenge(header)).toEqual(expected);
  });

  it("never lets a parameter named __proto__ reach the prototype", () => {
    const [challenge] = parseChallenges('Bearer __proto__="x", scope="s"');
    expect(Object.getPrototypeOf(challenge?.params)).toBeNull();
    expect(Object.entries(challenge?.params ?? {})).toContainEqual(["__proto__", "x"]);
  });

  it("reads every challenge the gateway sends", () => {
    const challenges = createChallenges(PRM, ["smack.read", "smack.write"]);
    expect(parseBearerChallenge(challenges.missing().wwwAuthenticate)).toEqual({
      resourceMetadata: PRM,
      scopes: ["smack.read", "smack.write"],
    });
    expect(parseBearerChallenge(challenges.invalidToken('bad "token", really').wwwAuthenticate)).toEqual({
      error: "invalid_token",
      errorDescription: 'bad "token", really',
      resourceMetadata: PRM,
      scopes: ["smack.read", "smack.write"],
    });
    expect(parseBearerChallenge(challenges.insufficientScope(["smack.write"]).wwwAuthenticate)).toMatchObject(
      {
        error: "insufficient_scope",
        scopes: ["smack.write"],
        resourceMetadata: PRM,
      },
    );
  });
});
