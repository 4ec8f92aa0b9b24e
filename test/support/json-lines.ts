import type { Readable } from "node:stream";

/** Collects newline-delimited JSON messages from a stream (a proxy's stdout) as they arrive. */
export function collectJsonLines<T = { [k: string]: unknown }>(stream: Readable): T[] {
  const lines: T[] = [];
  let buffered = "";
  stream.on("data", (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
      lines.push(JSON.parse(buffered.slice(0, nl)) as T);
      buffered = buffered.slice(nl + 1);
    }
  });
  return lines;
}
