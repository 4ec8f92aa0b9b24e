import type { Database } from "./db.js";

/** A stored chat message. */
export interface StoredMessage {
  id: string;
  channel: string;
  author: string;
  text: string;
  createdAt: Date;
}

/** Ordered, idempotent schema migrations; applied on start. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS channels (
     name text PRIMARY KEY,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE IF NOT EXISTS messages (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     channel text NOT NULL REFERENCES channels(name),
     author text NOT NULL,
     text text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX IF NOT EXISTS messages_channel_id ON messages (channel, id)`,
];

type Row = { id: string; channel: string; author: string; text: string; created_at: Date | string };

function toMessage(r: Row): StoredMessage {
  return {
    id: String(r.id),
    channel: r.channel,
    author: r.author,
    text: r.text,
    createdAt: new Date(r.created_at),
  };
}

/** Smack's data access: channels and messages in Postgres. */
export class MessageStore {
  constructor(private readonly db: Database) {}

  /** Applies pending migrations, recording each in schema_migrations. */
  async migrate(): Promise<void> {
    await this.db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY)");
    const done = new Set(
      (await this.db.query<{ version: number }>("SELECT version FROM schema_migrations")).map(
        (r) => r.version,
      ),
    );
    for (const [i, sql] of MIGRATIONS.entries()) {
      const version = i + 1;
      if (done.has(version)) continue;
      for (const statement of sql.split(";")) if (statement.trim()) await this.db.query(statement);
      await this.db.query("INSERT INTO schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING", [
        version,
      ]);
    }
  }

  async channelExists(name: string): Promise<boolean> {
    return (await this.db.query("SELECT 1 FROM channels WHERE name = $1", [name])).length > 0;
  }

  /** Stores a message, creating the channel on first write. */
  async write(channel: string, author: string, text: string): Promise<StoredMessage> {
    await this.db.query("INSERT INTO channels (name) VALUES ($1) ON CONFLICT DO NOTHING", [channel]);
    const rows = await this.db.query<Row>(
      `INSERT INTO messages (channel, author, text) VALUES ($1, $2, $3)
       RETURNING id::text AS id, channel, author, text, created_at`,
      [channel, author, text],
    );
    const row = rows[0];
    if (!row) throw new Error("insert returned no row");
    return toMessage(row);
  }

  /**
   * Stores a message unless the channel already holds one by the same author with the same
   * text; true when it was stored. One statement, so seeding twice (or two seeders at once
   * on an empty database, in all but a narrow race) leaves one copy.
   */
  async writeOnce(channel: string, author: string, text: string): Promise<boolean> {
    await this.db.query("INSERT INTO channels (name) VALUES ($1) ON CONFLICT DO NOTHING", [channel]);
    const rows = await this.db.query(
      `INSERT INTO messages (channel, author, text)
       SELECT $1, $2, $3 WHERE NOT EXISTS
         (SELECT 1 FROM messages WHERE channel = $1 AND author = $2 AND text = $3)
       RETURNING id`,
      [channel, author, text],
    );
    return rows.length > 0;
  }

  /** The newest `limit` messages older than `beforeId` (if set), oldest first, and whether older ones exist. */
  async read(
    channel: string,
    limit: number,
    beforeId?: string,
  ): Promise<{ messages: StoredMessage[]; more: boolean }> {
    const rows = await this.db.query<Row>(
      `SELECT id::text AS id, channel, author, text, created_at FROM messages
       WHERE channel = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
       ORDER BY id DESC LIMIT $3`,
      [channel, beforeId ?? null, limit + 1],
    );
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more };
  }

  /** Every channel with its message count, by name. */
  async channels(): Promise<{ name: string; count: string }[]> {
    return this.db.query<{ name: string; count: string }>(
      `SELECT c.name, count(m.id)::text AS count FROM channels c
       LEFT JOIN messages m ON m.channel = c.name GROUP BY c.name ORDER BY c.name`,
    );
  }
}
