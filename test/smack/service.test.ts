import { randomUUID } from "node:crypto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { BadRequest } from "../../gen/grpc-js/google/rpc/error_details.js";
import { Status } from "../../gen/grpc-js/google/rpc/status.js";
import {
  type ListChannelsResponse,
  type ReadChannelRequest,
  type ReadChannelResponse,
  SmackServiceClient,
  type WatchChannelResponse,
  type WriteToChannelResponse,
} from "../../gen/grpc-js/smack/v1/smack.js";

const databases = [
  { name: "PGlite", databaseUrl: undefined },
  { name: "Postgres", databaseUrl: process.env.DATABASE_URL },
];

describe.each(databases)("Smack on $name", ({ name, databaseUrl }) => {
  const skip = name === "Postgres" && !databaseUrl;
  let smack: RunningSmack;
  let client: SmackServiceClient;

  beforeAll(async () => {
    if (skip) return;
    smack = await startSmack({
      port: 0,
      ...(databaseUrl ? { databaseUrl, schema: `t_${randomUUID().slice(0, 8)}` } : {}),
    });
    client = new SmackServiceClient(smack.address, credentials.createInsecure());
  });
  afterAll(async () => {
    if (skip) return;
    client?.close();
    await smack?.close();
  });

  const write = (channel: string, text: string, subject?: string) =>
    new Promise<WriteToChannelResponse>((resolve, reject) => {
      const md = new Metadata();
      if (subject) md.set("x-mcpengine-subject", subject);
      client.writeToChannel({ channel, text }, md, (err, res) => (err ? reject(err) : resolve(res)));
    });
  const read = (req: Partial<ReadChannelRequest>) =>
    new Promise<ReadChannelResponse>((resolve, reject) =>
      client.readChannel({ channel: "", limit: 0, beforeId: "0", ...req }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  const list = () =>
    new Promise<ListChannelsResponse>((resolve, reject) =>
      client.listChannels({}, (err, res) => (err ? reject(err) : resolve(res))),
    );

  it.skipIf(skip)("stores a message with the author from metadata, or anonymous", async () => {
    const a = await write("random", "hello", "alice@example.com");
    const b = await write("random", "hi");
    expect(a.message).toMatchObject({ channel: "random", author: "alice@example.com", text: "hello" });
    expect(b.message?.author).toBe("anonymous");
    expect(BigInt(b.message?.id ?? 0) > BigInt(a.message?.id ?? 0)).toBe(true);
    expect(a.message?.createTime).toBeInstanceOf(Date);
  });

  it.skipIf(skip)("reads the newest messages oldest-first and pages back with before_id", async () => {
    for (let i = 1; i <= 5; i++) await write("paging", `m${i}`);
    const first = await read({ channel: "paging", limit: 2 });
    expect(first.messages.map((m) => m.text)).toEqual(["m4", "m5"]);
    const second = await read({ channel: "paging", limit: 2, beforeId: first.nextBeforeId });
    expect(second.messages.map((m) => m.text)).toEqual(["m2", "m3"]);
    const last = await read({ channel: "paging", limit: 2, beforeId: second.nextBeforeId });
    expect(last.messages.map((m) => m.text)).toEqual(["m1"]);
    expect(last.nextBeforeId).toBe("0");
  });

  it.skipIf(skip)("lists channels with message counts, by name", async () => {
    await write("zeta", "z");
    const { channels } = await list();
    const names = channels.map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(channels.find((c) => c.name === "zeta")?.messageCount).toBe("1");
  });

  it.skipIf(skip)("answers NOT_FOUND for an unknown channel", async () => {
    await expect(read({ channel: "nowhere" })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it.skipIf(skip)("answers INVALID_ARGUMENT with BadRequest field violations", async () => {
    const err = (await write("Bad Name", "").catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    const raw = err.metadata.get("grpc-status-details-bin")[0];
    if (!(raw instanceof Buffer)) throw new Error("no status details");
    const st = Status.decode(raw);
    expect(st.details[0]?.typeUrl).toBe("type.googleapis.com/google.rpc.BadRequest");
    const br = BadRequest.decode(st.details[0]?.value ?? new Uint8Array());
    expect(br.fieldViolations.map((v) => v.field)).toEqual(["channel", "text"]);
  });

  it.skipIf(skip)("streams messages written after a watch starts and ends after max_messages", async () => {
    await write("live", "before");
    const call = client.watchChannel({ channel: "live", maxMessages: 2 });
    const got: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: WatchChannelResponse) => got.push(r.message?.text ?? ""));
      call.on("end", resolve);
      call.on("error", reject);
    });
    await waitFor(() => smack.watchers("live") === 1);
    await write("live", "one");
    await write("live", "two");
    await write("live", "three");
    await done;
    expect(got).toEqual(["one", "two"]);
    await waitFor(() => smack.watchers("live") === 0);
  });

  it.skipIf(skip)("cleans up a watch when the client cancels", async () => {
    const call = client.watchChannel({ channel: "quiet", maxMessages: 5 });
    call.on("error", () => {});
    await waitFor(() => smack.watchers("quiet") === 1);
    call.cancel();
    await waitFor(() => smack.watchers("quiet") === 0);
  });

  it.skipIf(skip)("ends a watch at the call's deadline", async () => {
    const call = client.watchChannel({ channel: "slow", maxMessages: 5 }, { deadline: Date.now() + 300 });
    const err = await new Promise<ServiceError>((resolve) => call.on("error", resolve));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    await waitFor(() => smack.watchers("slow") === 0);
  });
});

async function waitFor(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
