import type { MessageStore } from "./store.js";

/** A message of the demo's starting data. */
export interface SeedMessage {
  readonly channel: string;
  readonly author: string;
  readonly text: string;
}

/**
 * What `mcpengine demo` starts Smack with: a few channels with messages by the
 * demo users (src/demo/users.ts), so a host has something to read at once.
 */
export const SEED_MESSAGES: readonly SeedMessage[] = [
  { channel: "general", author: "alice", text: "Welcome to Smack! This channel is for everyone." },
  {
    channel: "general",
    author: "bob",
    text: "Hi all. I can read every channel, but I am read-only in this demo.",
  },
  {
    channel: "general",
    author: "alice",
    text: "Ask your assistant to summarise a channel, or to post a message here as you.",
  },
  { channel: "random", author: "bob", text: "Does anyone know a good name for a chat service?" },
  { channel: "random", author: "alice", text: "Smack. Obviously." },
  {
    channel: "announcements",
    author: "alice",
    text: "Smack is an ordinary gRPC service on Postgres; MCPEngine turns its RPCs into MCP tools.",
  },
];

/**
 * Writes {@link SEED_MESSAGES} that are not there yet, in order; returns how
 * many were written. Idempotent: a database seeded before (a `--data-dir` or a
 * `DATABASE_URL` kept between runs) gets no second copy.
 */
export async function seedSmack(store: MessageStore): Promise<number> {
  let written = 0;
  for (const m of SEED_MESSAGES) if (await store.writeOnce(m.channel, m.author, m.text)) written++;
  return written;
}
