import { EventEmitter } from "node:events";
import { type Metadata, type ServerWritableStream, status } from "@grpc/grpc-js";
import type {
  Message,
  SmackServiceServer,
  WatchChannelRequest,
  WatchChannelResponse,
} from "../../gen/grpc-js/smack/v1/smack.js";
import { invalidArgument, rpcError } from "../shared/rich-status.js";
import { checkReadChannel, checkWatchChannel, checkWriteToChannel } from "./checks.js";
import type { MessageStore, StoredMessage } from "./store.js";

/** Metadata key the gateway sets to the caller's verified subject. */
export const SUBJECT_METADATA = "x-mcpengine-subject";

function toProto(m: StoredMessage): Message {
  return { id: m.id, channel: m.channel, author: m.author, text: m.text, createTime: m.createdAt };
}

function authorOf(metadata: Metadata): string {
  const v = metadata.get(SUBJECT_METADATA)[0];
  return typeof v === "string" && v !== "" ? v : "anonymous";
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
      const checked = checkReadChannel(req);
      if ("violations" in checked) throw invalidArgument("invalid ReadChannel request", checked.violations);
      const { channel, limit, beforeId } = checked.value;
      if (!(await store.channelExists(channel))) {
        throw rpcError(status.NOT_FOUND, `channel "${channel}" does not exist`);
      }
      const { messages, more } = await store.read(channel, limit, beforeId);
      return { messages: messages.map(toProto), nextBeforeId: more && messages[0] ? messages[0].id : "0" };
    }),

    writeToChannel: unary(async (req, metadata) => {
      const checked = checkWriteToChannel(req);
      if ("violations" in checked) {
        throw invalidArgument("invalid WriteToChannel request", checked.violations);
      }
      const stored = await store.write(checked.value.channel, authorOf(metadata), checked.value.text);
      bus.emit(stored.channel, stored);
      return { message: toProto(stored) };
    }),

    listChannels: unary(async () => {
      const rows = await store.channels();
      return { channels: rows.map((r) => ({ name: r.name, messageCount: r.count })) };
    }),

    watchChannel(call: ServerWritableStream<WatchChannelRequest, WatchChannelResponse>) {
      const checked = checkWatchChannel(call.request);
      if ("violations" in checked) {
        // An "error" event is how a grpc-js server stream ends with a status: the
        // stream records it and ends, and ending sends it. `destroy(err)` would
        // tear the stream down before it ends, so no status would ever be sent
        // and the client would wait for its deadline.
        call.emit("error", invalidArgument("invalid WatchChannel request", checked.violations));
        return;
      }
      const { channel, maxMessages, maxWaitMs } = checked.value;
      let sent = 0;
      let open = true;
      let timer: NodeJS.Timeout | undefined;
      const onMessage = (m: StoredMessage) => {
        call.write({ message: toProto(m) });
        if (++sent >= maxMessages) finish();
      };
      /** Stops listening; false if already stopped. */
      const stop = () => {
        if (!open) return false;
        open = false;
        clearTimeout(timer);
        bus.off(channel, onMessage);
        return true;
      };
      // Enough messages, or max_wait elapsed: end normally (OK) with what was sent.
      const finish = () => {
        if (stop()) call.end();
      };
      bus.on(channel, onMessage);
      timer = setTimeout(finish, maxWaitMs);
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
