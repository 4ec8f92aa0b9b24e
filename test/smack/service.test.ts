import { randomUUID } from "node:crypto";
import { type DescMessage, fromJson, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import { type CallOptions, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSmack, startSmack } from "../../examples/smack/server.js";
import { BadRequest } from "../../gen/grpc-js/google/rpc/error_details.js";
import { Status } from "../../gen/grpc-js/google/rpc/status.js";
import {
  type ListChannelsResponse,
  ReadChannelRequest,
  type ReadChannelResponse,
  SmackServiceClient,
  WatchChannelRequest,
  type WatchChannelResponse,
  WriteToChannelRequest,
  type WriteToChannelResponse,
} from "../../gen/grpc-js/smack/v1/smack.js";
import { imageRegistry } from "../support/image.js";

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
      client.readChannel(ReadChannelRequest.fromPartial(req), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  const watch = (req: Partial<WatchChannelRequest>, options: Partial<CallOptions> = {}) =>
    client.watchChannel(WatchChannelRequest.fromPartial(req), options);
  /** Runs a watch to its end: the messages' texts, then OK or the error. */
  const watchToEnd = (call: ReturnType<typeof watch>) =>
    new Promise<{ texts: string[]; error?: ServiceError }>((resolve) => {
      const texts: string[] = [];
      call.on("data", (r: WatchChannelResponse) => texts.push(r.message?.text ?? ""));
      call.on("end", () => resolve({ texts }));
      call.on("error", (error: ServiceError) => resolve({ texts, error }));
    });
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
    const call = watch({ channel: "live", maxMessages: 2 });
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
    const call = watch({ channel: "quiet", maxMessages: 5 });
    call.on("error", () => {});
    await waitFor(() => smack.watchers("quiet") === 1);
    call.cancel();
    await waitFor(() => smack.watchers("quiet") === 0);
  });

  it.skipIf(skip)("ends a watch at the call's deadline", async () => {
    const call = watch({ channel: "slow", maxMessages: 5 }, { deadline: Date.now() + 300 });
    const err = await new Promise<ServiceError>((resolve) => call.on("error", resolve));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    await waitFor(() => smack.watchers("slow") === 0);
  });

  it.skipIf(skip)("answers an invalid watch with INVALID_ARGUMENT at once, not at the deadline", async () => {
    const started = Date.now();
    const call = watch({ channel: "Bad Name", maxMessages: 101 }, { deadline: Date.now() + 3_000 });
    const { error } = await watchToEnd(call);
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(fieldViolations(error).map((v) => v.field)).toEqual(["channel", "max_messages"]);
  });

  it.skipIf(skip)("ends a watch normally at max_wait with the messages sent so far", async () => {
    const started = Date.now();
    const call = watch(
      { channel: "patient", maxMessages: 5, maxWait: { seconds: "0", nanos: 500_000_000 } },
      { deadline: Date.now() + 5_000 },
    );
    const end = watchToEnd(call);
    await waitFor(() => smack.watchers("patient") === 1);
    await write("patient", "one");
    await write("patient", "two");
    const { texts, error } = await end;
    expect(error).toBeUndefined();
    expect(texts).toEqual(["one", "two"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(smack.watchers("patient")).toBe(0);
  });

  describe("checks requests exactly as the proto's buf.validate rules do", () => {
    const registry = imageRegistry();
    const validator = createValidator({ registry });
    const desc = (name: string): DescMessage => {
      const d = registry.getMessage(`smack.v1.${name}`);
      if (!d) throw new Error(`smack.v1.${name} not in the image`);
      return d;
    };
    /** Protovalidate's verdict on ProtoJSON arguments: the violated fields, each once. */
    const protovalidate = (rpc: Rpc, args: JsonObject): string[] => {
      const input = desc(`${rpc}Request`);
      const result = validator.validate(input, fromJson(input, args, { registry }));
      if (result.kind === "error") throw result.error;
      return result.kind === "valid" ? [] : [...new Set(result.violations.map((v) => pathToString(v.field)))];
    };
    /** Smack's verdict on the same request (encoded by protobuf-es, decoded by ts-proto). */
    const smackChecks = async (rpc: Rpc, args: JsonObject): Promise<string[]> => {
      const input = desc(`${rpc}Request`);
      const bytes = toBinary(input, fromJson(input, args, { registry }));
      const outcome = await new Promise<ServiceError | undefined>((resolve) => {
        const done = (err: ServiceError | null) => resolve(err ?? undefined);
        switch (rpc) {
          case "ReadChannel":
            client.readChannel(ReadChannelRequest.decode(bytes), done);
            break;
          case "WriteToChannel":
            client.writeToChannel(WriteToChannelRequest.decode(bytes), done);
            break;
          case "WatchChannel": {
            // A valid watch is accepted once it listens; an invalid one fails at once.
            const req = WatchChannelRequest.decode(bytes);
            const call = client.watchChannel(req, { deadline: Date.now() + 5_000 });
            call.on("error", done);
            call.on("status", () => resolve(undefined));
            waitFor(() => smack.watchers(req.channel) > 0).then(
              () => {
                call.cancel();
                resolve(undefined);
              },
              () => {},
            );
            break;
          }
        }
      });
      return outcome?.code === status.INVALID_ARGUMENT ? fieldViolations(outcome).map((v) => v.field) : [];
    };
    const x = (n: number) => "x".repeat(n);
    /** [what, rpc, arguments, the fields both must refuse]. */
    const cases: [string, Rpc, JsonObject, string[]][] = [
      ["a plain read", "ReadChannel", { channel: "general" }, []],
      ["a read of 1 message", "ReadChannel", { channel: "general", limit: 1 }, []],
      ["a read of 200 messages", "ReadChannel", { channel: "general", limit: 200 }, []],
      ["a read of 0 messages", "ReadChannel", { channel: "general", limit: 0 }, ["limit"]],
      ["a read of 201 messages", "ReadChannel", { channel: "general", limit: 201 }, ["limit"]],
      ["a negative before_id", "ReadChannel", { channel: "general", beforeId: "-1" }, ["before_id"]],
      ["a missing channel", "ReadChannel", {}, ["channel"]],
      ["an 80-character channel", "ReadChannel", { channel: x(80) }, []],
      ["an 81-character channel", "ReadChannel", { channel: x(81) }, ["channel"]],
      ["a channel with capitals", "ReadChannel", { channel: "General" }, ["channel"]],
      ["a channel starting with '-'", "ReadChannel", { channel: "-general" }, ["channel"]],
      ["a channel with '_' and '-'", "ReadChannel", { channel: "a_b-c" }, []],
      ["a one-character text", "WriteToChannel", { channel: "rules", text: "x" }, []],
      ["an empty text", "WriteToChannel", { channel: "rules", text: "" }, ["text"]],
      ["4000 two-byte characters", "WriteToChannel", { channel: "rules", text: "é".repeat(4000) }, []],
      ["4001 characters", "WriteToChannel", { channel: "rules", text: x(4001) }, ["text"]],
      ["a write without channel or text", "WriteToChannel", {}, ["channel", "text"]],
      ["a plain watch", "WatchChannel", { channel: "rules-a" }, []],
      ["a watch of 100 messages", "WatchChannel", { channel: "rules-b", maxMessages: 100 }, []],
      ["a watch of 0 messages", "WatchChannel", { channel: "rules", maxMessages: 0 }, ["max_messages"]],
      ["a watch of 101 messages", "WatchChannel", { channel: "rules", maxMessages: 101 }, ["max_messages"]],
      ["a watch of 60s", "WatchChannel", { channel: "rules-c", maxWait: "60s" }, []],
      ["a watch of 1ns", "WatchChannel", { channel: "rules-d", maxWait: "0.000000001s" }, []],
      ["a watch of 0s", "WatchChannel", { channel: "rules", maxWait: "0s" }, ["max_wait"]],
      ["a watch of -1s", "WatchChannel", { channel: "rules", maxWait: "-1s" }, ["max_wait"]],
      ["a watch just over 60s", "WatchChannel", { channel: "rules", maxWait: "60.000000001s" }, ["max_wait"]],
      ["a watch of a bad channel", "WatchChannel", { channel: "no way" }, ["channel"]],
    ];
    it.skipIf(skip).each(cases)("%s", async (_what, rpc, args, refused) => {
      expect(protovalidate(rpc, args)).toEqual(refused);
      expect(await smackChecks(rpc, args)).toEqual(refused);
    });
  });
});

type Rpc = "ReadChannel" | "WriteToChannel" | "WatchChannel";

/** The `google.rpc.BadRequest` field violations in a gRPC error's status details. */
function fieldViolations(err: ServiceError | undefined): { field: string }[] {
  const raw = err?.metadata.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer)) throw new Error("no status details");
  const st = Status.decode(raw);
  expect(st.details[0]?.typeUrl).toBe("type.googleapis.com/google.rpc.BadRequest");
  return BadRequest.decode(st.details[0]?.value ?? new Uint8Array()).fieldViolations;
}

async function waitFor(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
