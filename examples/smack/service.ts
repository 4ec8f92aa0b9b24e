import { EventEmitter } from "node:events";
import { type Metadata, type ServerWritableStream, status } from "@grpc/grpc-js";
import type {
  Message,
  SmackServiceServer,
  WatchChannelRequest,
  WatchChannelResponse,
} from "../../gen/grpc-js/smack/v1/smack.js";
import { type FieldViolation, invalidArgument, rpcError } from "../shared/rich-status.js";
import type { MessageStore, StoredMessage } from "./store.js";

/** Metadata key the gateway sets to the caller's verified subject. */
export const SUBJECT_METADATA = "x-mcpengine-subject";

const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,79}$/;
const MAX_TEXT = 4000;

function toProto(m: StoredMessage): Message {
  return { id: m.id, channel: m.channel, author: m.author, text: m.text, createTime: m.createdAt };
}

function authorOf(metadata: Metadata): string {
  const v = metadata.get(SUBJECT_METADATA)[0];
  return typeof v === "string" && v !== "" ? v : "anonymous";
}

function checkChannel(channel: string, violations: FieldViolation[]): void {
  if (!CHANNEL_NAME.test(channel)) {
    violations.push({
      field: "channel",
      description:
        "must be 1-80 characters of lowercase letters, digits, '-' and '_', starting with a letter or digit",
    });
  }
}

/** Runs an async handler and reports failures as gRPC errors instead of crashing. */
function unary<Req, Res>(fn: (req: Req, metadata: Metadata) => Promise<Res>) {
  return (call: { request: Req; metadata: Metadata }, callback: (err: Error | null, res?: Res) => void) => {
    fn(call.request, call.metadata).then(
      (res) => callback(null, res),
      (err: unknown) =>
        callback(
          err instanceof Error && "code" in err
            ? err
            : rpcError(status.INTERNAL, `internal error: ${String(err)}`),
        ),
    );
  };
}

/**
 * The SmackService implementation on grpc-js. New messages are announced on an
 * in-process bus that WatchChannel subscribers listen to.
 */
export function createSmackService(store: MessageStore): SmackService {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);

  const implementation: SmackServiceServer = {
    readChannel: unary(async (req) => {
      const violations: FieldViolation[] = [];
      checkChannel(req.channel, violations);
      const limit = req.limit === 0 ? 50 : req.limit;
      if (limit < 1 || limit > 200)
        violations.push({ field: "limit", description: "must be between 1 and 200" });
      if (BigInt(req.beforeId) < 0n)
        violations.push({ field: "before_id", description: "must not be negative" });
      if (violations.length > 0) throw invalidArgument("invalid ReadChannel request", violations);
      if (!(await store.channelExists(req.channel))) {
        throw rpcError(status.NOT_FOUND, `channel "${req.channel}" does not exist`);
      }
      const { messages, more } = await store.read(
        req.channel,
        limit,
        req.beforeId === "0" ? undefined : req.beforeId,
      );
      return { messages: messages.map(toProto), nextBeforeId: more && messages[0] ? messages[0].id : "0" };
    }),

    writeToChannel: unary(async (req, metadata) => {
      const violations: FieldViolation[] = [];
      checkChannel(req.channel, violations);
      const length = [...req.text].length;
      if (length < 1 || length > MAX_TEXT) {
        violations.push({ field: "text", description: `must be 1-${MAX_TEXT} characters` });
      }
      if (violations.length > 0) throw invalidArgument("invalid WriteToChannel request", violations);
      const stored = await store.write(req.channel, authorOf(metadata), req.text);
      bus.emit(stored.channel, stored);
      return { message: toProto(stored) };
    }),

    listChannels: unary(async () => {
      const rows = await store.channels();
      return { channels: rows.map((r) => ({ name: r.name, messageCount: r.count })) };
    }),

    watchChannel(call: ServerWritableStream<WatchChannelRequest, WatchChannelResponse>) {
      const violations: FieldViolation[] = [];
      checkChannel(call.request.channel, violations);
      const max = call.request.maxMessages === 0 ? 10 : call.request.maxMessages;
      if (max < 1 || max > 100)
        violations.push({ field: "max_messages", description: "must be between 1 and 100" });
      if (violations.length > 0) {
        call.destroy(invalidArgument("invalid WatchChannel request", violations));
        return;
      }
      let sent = 0;
      const onMessage = (m: StoredMessage) => {
        call.write({ message: toProto(m) });
        sent++;
        if (sent >= max) {
          stop();
          call.end();
        }
      };
      const stop = () => bus.off(call.request.channel, onMessage);
      bus.on(call.request.channel, onMessage);
      // Cancellation and deadline expiry both surface as "cancelled".
      call.on("cancelled", stop);
      call.on("close", stop);
    },
  };
  return { implementation, watchers: (channel) => bus.listenerCount(channel) };
}

/** The service and a probe of its live WatchChannel subscriptions (for leak checks). */
export interface SmackService {
  readonly implementation: SmackServiceServer;
  watchers(channel: string): number;
}
