import type {
  ReadChannelRequest,
  WatchChannelRequest,
  WriteToChannelRequest,
} from "../../gen/grpc-js/smack/v1/smack.js";
import type { FieldViolation } from "../shared/rich-status.js";

// Smack's own request checks, kept although the gateway checks the same rules
// before calling (defence in depth: gRPC clients may call Smack directly). They
// mirror the buf.validate rules in proto/smack/v1/smack.proto, and
// test/smack/service.test.ts holds the two to the same verdicts.

/** Channel names: `(buf.validate.field).string.pattern` of every `channel` field. */
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,79}$/;
/** `WriteToChannelRequest.text`: `string.max_len`, in code points as protovalidate counts. */
export const MAX_TEXT = 4000;
/** `ReadChannelRequest.limit` when absent (documented in the proto). */
export const DEFAULT_LIMIT = 50;
/** `ReadChannelRequest.limit`: `int32.lte` (and `gte: 1`). */
export const MAX_LIMIT = 200;
/** `WatchChannelRequest.max_messages` when absent (documented in the proto). */
export const DEFAULT_MAX_MESSAGES = 10;
/** `WatchChannelRequest.max_messages`: `int32.lte` (and `gte: 1`). */
export const MAX_MAX_MESSAGES = 100;
/** `WatchChannelRequest.max_wait` when absent (documented in the proto), in milliseconds. */
export const DEFAULT_MAX_WAIT_MS = 10_000;
/** `WatchChannelRequest.max_wait`: `duration.lte` (and `gt: 0s`), in milliseconds. */
export const MAX_MAX_WAIT_MS = 60_000;

/** A request that passed its checks, with defaults applied, or the fields that did not. */
export type Checked<T> = { readonly value: T } | { readonly violations: FieldViolation[] };

/** A ReadChannel request, checked. */
export interface ReadChannel {
  readonly channel: string;
  readonly limit: number;
  /** Undefined for the newest messages. */
  readonly beforeId: string | undefined;
}

/** A WriteToChannel request, checked. */
export interface WriteToChannel {
  readonly channel: string;
  readonly text: string;
}

/** A WatchChannel request, checked. */
export interface WatchChannel {
  readonly channel: string;
  readonly maxMessages: number;
  readonly maxWaitMs: number;
}

/** Checks a ReadChannel request and applies the default `limit`. */
export function checkReadChannel(req: ReadChannelRequest): Checked<ReadChannel> {
  const violations: FieldViolation[] = [];
  checkChannel(req.channel, violations);
  // `optional`: absent means the default; a value that is present must be in range.
  const limit = req.limit ?? DEFAULT_LIMIT;
  if (limit < 1 || limit > MAX_LIMIT)
    violations.push({ field: "limit", description: `must be between 1 and ${MAX_LIMIT}` });
  if (BigInt(req.beforeId) < 0n) violations.push({ field: "before_id", description: "must not be negative" });
  if (violations.length > 0) return { violations };
  return {
    value: { channel: req.channel, limit, beforeId: req.beforeId === "0" ? undefined : req.beforeId },
  };
}

/** Checks a WriteToChannel request. */
export function checkWriteToChannel(req: WriteToChannelRequest): Checked<WriteToChannel> {
  const violations: FieldViolation[] = [];
  checkChannel(req.channel, violations);
  const length = [...req.text].length;
  if (length === 0) violations.push({ field: "text", description: "is required" });
  else if (length > MAX_TEXT)
    violations.push({ field: "text", description: `must be at most ${MAX_TEXT} characters` });
  if (violations.length > 0) return { violations };
  return { value: { channel: req.channel, text: req.text } };
}

/** Checks a WatchChannel request and applies the default `max_messages` and `max_wait`. */
export function checkWatchChannel(req: WatchChannelRequest): Checked<WatchChannel> {
  const violations: FieldViolation[] = [];
  checkChannel(req.channel, violations);
  const maxMessages = req.maxMessages ?? DEFAULT_MAX_MESSAGES;
  if (maxMessages < 1 || maxMessages > MAX_MAX_MESSAGES)
    violations.push({ field: "max_messages", description: `must be between 1 and ${MAX_MAX_MESSAGES}` });
  let maxWaitMs = DEFAULT_MAX_WAIT_MS;
  if (req.maxWait) {
    // Exact, in nanoseconds: `seconds` is an int64 and a bound may sit between milliseconds.
    const nanos = BigInt(req.maxWait.seconds) * 1_000_000_000n + BigInt(req.maxWait.nanos);
    if (nanos <= 0n || nanos > BigInt(MAX_MAX_WAIT_MS) * 1_000_000n) {
      violations.push({
        field: "max_wait",
        description: `must be more than 0s and at most ${MAX_MAX_WAIT_MS / 1000}s`,
      });
    } else maxWaitMs = Number(nanos) / 1e6;
  }
  if (violations.length > 0) return { violations };
  return { value: { channel: req.channel, maxMessages, maxWaitMs } };
}

/** `channel`: required (non-empty) and a channel name. */
function checkChannel(channel: string, violations: FieldViolation[]): void {
  if (channel === "") {
    violations.push({ field: "channel", description: "is required" });
  } else if (!CHANNEL_NAME.test(channel)) {
    violations.push({
      field: "channel",
      description:
        "must be 1-80 characters of lowercase letters, digits, '-' and '_', starting with a letter or digit",
    });
  }
}
