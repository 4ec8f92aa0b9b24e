import type { JsonRpcMessage, Remote } from "../../src/proxy/types.js";

/** What a test host sees of a remote: every server message, and requests awaiting their answers. */
export interface Host {
  /** Every message the remote delivered, in order. */
  readonly messages: JsonRpcMessage[];
  readonly onMessage: (message: JsonRpcMessage) => void;
  /** Sends a request and resolves with its response. */
  request(remote: Remote, method: string, params?: object): Promise<JsonRpcMessage>;
  notify(remote: Remote, method: string, params?: object): Promise<void>;
  /** The id the next request will get. */
  nextId(): number;
}

/** A test host; answers not seen within `timeoutMs` fail the request. */
export function createHost(timeoutMs = 10_000): Host {
  const messages: JsonRpcMessage[] = [];
  const waiters = new Map<string | number, (m: JsonRpcMessage) => void>();
  let id = 0;
  return {
    messages,
    onMessage(m) {
      messages.push(m);
      if (m.method === undefined && (typeof m.id === "number" || typeof m.id === "string")) {
        waiters.get(m.id)?.(m);
        waiters.delete(m.id);
      }
    },
    async request(remote, method, params) {
      id += 1;
      const mine = id;
      const answer = new Promise<JsonRpcMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${method} (id ${mine})`)), timeoutMs);
        waiters.set(mine, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
      await remote.send({ jsonrpc: "2.0", id: mine, method, ...(params ? { params } : {}) });
      return answer;
    },
    notify(remote, method, params) {
      return remote.send({ jsonrpc: "2.0", method, ...(params ? { params } : {}) });
    },
    nextId: () => id + 1,
  };
}

/** The params of a session-era `initialize`. */
export function initializeParams(protocolVersion = "2025-11-25"): object {
  return { protocolVersion, capabilities: {}, clientInfo: { name: "remote-test", version: "1.0.0" } };
}

/** An `initialize` request message. */
export function initializeMessage(id: number, protocolVersion = "2025-11-25"): JsonRpcMessage {
  return { jsonrpc: "2.0", id, method: "initialize", params: initializeParams(protocolVersion) };
}

/** A request seen by a spying `fetch`. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { readonly [name: string]: string };
  readonly body: string | undefined;
  status?: number;
}

/** A `fetch` that records every request (lowercased header names) and the status it got. */
export function spyFetch(): { fetch: typeof fetch; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const spy: typeof fetch = async (input, init) => {
    const headers: { [name: string]: string } = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const entry: SeenRequest = {
      method: init?.method ?? "GET",
      url: String(input),
      headers,
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    seen.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    return res;
  };
  return { fetch: spy, seen };
}

/** Polls `check` until it holds. */
export async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
