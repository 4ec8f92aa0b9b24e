import type { Readable, Writable } from "node:stream";
import type { JsonRpcMessage } from "./types.js";

/** Longest line accepted from the host: a message larger than this is refused, not buffered. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** One line from the host that is not a JSON-RPC message. */
export interface InvalidLine {
  readonly reason: string;
  /** The request id, when the line was a JSON object carrying one. */
  readonly id: string | number | null;
}

/**
 * Reads newline-delimited JSON-RPC messages from the host (MCP basic/transports
 * "stdio": messages are delimited by newlines and contain no embedded newline).
 * Calls `onMessage` for each message in order and `onInvalid` for a line that
 * is not one; resolves when the input ends.
 */
export function readMessages(
  input: Readable,
  onMessage: (message: JsonRpcMessage) => void,
  onInvalid: (line: InvalidLine) => void,
): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer[] = [];
    let size = 0;
    let skipping = false;
    const line = (bytes: Buffer) => {
      const text = bytes.toString("utf8").trim();
      if (text === "") return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        onInvalid({ reason: `not JSON: ${(err as Error).message}`, id: null });
        return;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        onInvalid({ reason: "a JSON-RPC message must be an object", id: null });
        return;
      }
      const m = value as { [k: string]: unknown };
      if (m.jsonrpc !== "2.0") {
        const id = typeof m.id === "string" || typeof m.id === "number" ? m.id : null;
        onInvalid({ reason: 'jsonrpc must be "2.0"', id });
        return;
      }
      onMessage(m as JsonRpcMessage);
    };
    input.on("data", (chunk: Buffer) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl === -1) break;
        const piece = chunk.subarray(start, nl);
        if (!skipping) line(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
        pending = [];
        size = 0;
        skipping = false;
        start = nl + 1;
      }
      const rest = chunk.subarray(start);
      if (rest.length === 0 || skipping) return;
      size += rest.length;
      if (size > MAX_LINE_BYTES) {
        onInvalid({ reason: `a message over ${MAX_LINE_BYTES} bytes`, id: null });
        pending = [];
        size = 0;
        skipping = true;
        return;
      }
      pending.push(Buffer.from(rest));
    });
    input.on("end", () => {
      if (pending.length > 0 && !skipping) line(Buffer.concat(pending));
      resolve();
    });
    input.on("close", () => resolve());
    input.on("error", () => resolve());
  });
}

/**
 * Writes messages to the host, one JSON line each. stdout carries nothing
 * else: logs go to stderr. Writes keep their order; a host that stops reading
 * only delays them (Node buffers), and a closed stdout drops them.
 */
export function createWriter(output: Writable): (message: JsonRpcMessage) => void {
  let closed = false;
  output.on("error", () => {
    closed = true;
  });
  return (message) => {
    if (closed || output.destroyed) return;
    output.write(`${JSON.stringify(message)}\n`);
  };
}
