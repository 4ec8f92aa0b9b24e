import { PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileUriTemplate } from "../../src/catalog/index.js";
import { trailerStatus } from "../../src/invoke/grpc-status.js";
import { classify, decodeHeaderValue } from "../../src/mcp/index.js";
import { parseBearerChallenge } from "../../src/proxy/oauth/challenge.js";
import { encodeHeaderValue } from "../../src/proxy/remote/request-headers.js";
import { readMessages } from "../../src/proxy/stdio.js";

/**
 * Properties of the parsers at the edges, where anyone's bytes arrive: they
 * never throw, and what one side writes the other reads back. The seed is
 * fixed so CI runs the same cases each time; `PROPERTY_RUNS` runs more (e.g.
 * `PROPERTY_RUNS=100000 npx vitest run test/properties`), with a random seed
 * when `PROPERTY_SEED` is unset and the runs are raised.
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const SEED = process.env.PROPERTY_SEED
  ? Number(process.env.PROPERTY_SEED)
  : RUNS > 300
    ? undefined
    : 20261126;
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) };

describe("JSON-RPC classification (gateway)", () => {
  it("classifies any JSON value without throwing, as exactly one kind", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const kind = classify(value).kind;
        expect(["request", "notification", "response", "invalid"]).toContain(kind);
      }),
      params,
    );
  });

  it("accepts every well-formed request with its id and method", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.integer()),
        fc.string({ minLength: 1 }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (id, method, p) => {
          const got = classify({ jsonrpc: "2.0", id, method, params: p });
          expect(got.kind).toBe("request");
          if (got.kind === "request") expect([got.message.id, got.message.method]).toEqual([id, method]);
        },
      ),
      params,
    );
  });
});

describe("MCP header values (2026-07-28 basic/transports)", () => {
  it("decodes what the proxy encodes, any Unicode text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (text) => {
        expect(decodeHeaderValue(encodeHeaderValue(text))).toBe(text);
      }),
      params,
    );
  });

  it("never throws on any header text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (raw) => {
        const got = decodeHeaderValue(raw);
        expect(got === undefined || typeof got === "string").toBe(true);
      }),
      params,
    );
  });
});

describe("URI templates (RFC 6570 level 1-2, resource templates)", () => {
  it("matches the URI built from a value back to that value", () => {
    const template = compileUriTemplate("smack://channels/{channel}/messages");
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: "grapheme" }), (value) => {
        const uri = `smack://channels/${encodeURIComponent(value)}/messages`;
        expect(template.match(uri)?.get("channel")).toBe(value);
      }),
      params,
    );
  });

  it("never throws on any URI", () => {
    const template = compileUriTemplate("file:///{+path}");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (uri) => {
        const got = template.match(uri);
        expect(got === undefined || got instanceof Map).toBe(true);
      }),
      params,
    );
  });
});

describe("gRPC trailers from a backend", () => {
  it("never throw, whatever status, message and details a backend sends", () => {
    fc.assert(
      fc.property(
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string({ unit: "binary" }), { nil: undefined }),
        fc.option(
          fc.uint8Array().map((b) => Buffer.from(b).toString("base64")),
          { nil: undefined },
        ),
        (status, message, details) => {
          const headers: { [k: string]: string } = {};
          if (status !== undefined) headers["grpc-status"] = status;
          if (message !== undefined) headers["grpc-message"] = message;
          if (details !== undefined) headers["grpc-status-details-bin"] = details;
          const err = trailerStatus(headers);
          expect(err === undefined || (err.code >= 1 && err.code <= 16)).toBe(true);
        },
      ),
      params,
    );
  });
});

describe("WWW-Authenticate challenges (proxy)", () => {
  it("never throw on any header, and read back the parameters of a well-formed Bearer challenge", () => {
    const token = fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,20}$/);
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (header) => {
        parseBearerChallenge(header);
      }),
      params,
    );
    fc.assert(
      fc.property(fc.webUrl(), fc.array(token, { maxLength: 4 }), (url, scopes) => {
        const header = `Bearer resource_metadata="${url}", scope="${scopes.join(" ")}"`;
        const got = parseBearerChallenge(header);
        expect(got?.resourceMetadata).toBe(url);
        expect(got?.scopes ?? []).toEqual(scopes);
      }),
      params,
    );
  });
});

describe("stdio framing (proxy)", () => {
  it("reads the same messages however the bytes are cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        async (payloads, cuts) => {
          const messages = payloads.map((p, i) => ({ ...p, jsonrpc: "2.0", id: i, method: "m" }));
          const bytes = Buffer.from(messages.map((m) => `${JSON.stringify(m)}\n`).join(""));
          const input = new PassThrough();
          const got: unknown[] = [];
          const done = readMessages(
            input,
            (m) => got.push(m),
            () => {},
          );
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length] as number;
            input.write(bytes.subarray(at, at + n));
            at += n;
          }
          input.end();
          await done;
          // As JSON carries them (-0 is written as 0).
          expect(got).toEqual(JSON.parse(JSON.stringify(messages)));
        },
      ),
      { ...params, numRuns: Math.min(RUNS, 200) },
    );
  });
});
