import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** The little SQL surface Smack needs, served by `pg` or by embedded PGlite. */
export interface Database {
  query<R extends object>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
  readonly kind: "postgres" | "pglite";
}

/** Options of {@link openDatabase}. */
export interface DatabaseOptions {
  /** A Postgres URL; when absent, embedded PGlite is used. */
  readonly databaseUrl?: string;
  /** PGlite data directory; in memory when absent. */
  readonly dataDir?: string;
  /** Postgres schema to work in (created if missing), e.g. to isolate test runs. */
  readonly schema?: string;
  /** Drop that schema on close (tests). */
  readonly dropSchemaOnClose?: boolean;
}

/**
 * Opens Postgres through `pg` when a URL is given, else PGlite (WASM Postgres,
 * in memory or in `dataDir`): the same SQL runs on both.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`invalid schema name "${schema}"`);
  if (options.databaseUrl) {
    if (schema) {
      const admin = new pg.Client({ connectionString: options.databaseUrl });
      await admin.connect();
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await admin.end();
    }
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    return {
      kind: "postgres",
      async query<R extends object>(sql: string, params: unknown[] = []) {
        return (await pool.query(sql, params)).rows as R[];
      },
      async close() {
        if (schema && options.dropSchemaOnClose) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await pool.end();
      },
    };
  }
  const lite = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  await lite.waitReady;
  if (schema) await lite.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
  return {
    kind: "pglite",
    async query<R extends object>(sql: string, params: unknown[] = []) {
      return (await lite.query<R>(sql, params)).rows;
    },
    async close() {
      await lite.close();
    },
  };
}
