import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messageParts, messageText } from "../../src/http/message-text.js";
import { structuredResult, toolErrorResult } from "../../src/invoke/index.js";

const response = (result: object) => ({ jsonrpc: "2.0", id: 7, result });

describe("messageText", () => {
  it("serializes a large tool result's structured content once, reusing its text block", () => {
    let serialized = 0;
    const item = { sku: "A1", name: "n".repeat(20_000) };
    // A member that counts how often the content is serialized.
    const json = {
      toJSON() {
        serialized++;
        return { item };
      },
    };
    const text = messageText(response(structuredResult(json as never)));
    expect(serialized).toBe(1);
    expect(JSON.parse(text)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { content: [{ type: "text", text: JSON.stringify({ item }) }], structuredContent: { item } },
    });
  });

  it("is the message's JSON for any structured content, large ones in parts", () => {
    const content = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });
    const large = fc.string({ minLength: 16 * 1024, maxLength: 20 * 1024 }).map((s) => ({ s }));
    fc.assert(
      fc.property(
        fc.oneof(content, large),
        fc.oneof(fc.integer(), fc.string()),
        fc.boolean(),
        (json, id, extra) => {
          const result = structuredResult(json as never);
          if (extra) Object.assign(result, { resultType: "complete", isError: false });
          const message = { jsonrpc: "2.0", id, result };
          const parts = messageParts(message);
          const text = typeof parts === "string" ? parts : parts.join("");
          expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(message)));
          expect(text).toBe(messageText(message));
          expect(typeof parts === "string").toBe(JSON.stringify(json).length < 16 * 1024);
          if (typeof parts === "string") expect(parts).toBe(JSON.stringify(message));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("serializes afresh when the content was replaced, or the result was not made with its text", () => {
    const result = structuredResult({ a: 1 });
    result.structuredContent = { a: 2 };
    expect(JSON.parse(messageText(response(result))).result.structuredContent).toEqual({ a: 2 });
    const copy = { ...structuredResult({ b: 1 }), isError: false };
    expect(messageText(response(copy))).toBe(JSON.stringify(response(copy)));
    expect(messageParts(response(copy))).toBe(JSON.stringify(response(copy)));
    const error = toolErrorResult("no");
    expect(messageText(response(error))).toBe(JSON.stringify(response(error)));
    const note = { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } };
    expect(messageText(note)).toBe(JSON.stringify(note));
  });
});
