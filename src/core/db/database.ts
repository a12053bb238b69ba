import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, MysqlDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type Dialect = 'sqlite' | 'mysql';

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  /** True when the server can `SELECT … FOR UPDATE SKIP LOCKED` (MySQL ≥ 8.0.1, MariaDB ≥ 10.6). */
  supportsSkipLocked: boolean;
  close(): Promise<void>;
}

/** Opens the database DATABASE_URL names: `sqlite:PATH` (file created, WAL) or `mysql://…` (pooled). */
export async function openDatabase(url: string, opts: { poolSize?: number } = {}): Promise<DatabaseHandle> {
  if (url.startsWith('sqlite:')) {
    const { default: SQLite } = await import('better-sqlite3');
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    const conn = new SQLite(path);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    conn.pragma('busy_timeout = 5000');
    conn.pragma('foreign_keys = ON');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: conn }) });
    return { db, dialect: 'sqlite', supportsSkipLocked: false, close: () => db.destroy() };
  }
  if (url.startsWith('mysql://')) {
    const { createPool } = await import('mysql2');
    const pool = createPool({
      uri: url,
      connectionLimit: opts.poolSize ?? 10,
      // Times are stored as UTC strings; never let the driver shift them through the server's zone.
      dateStrings: true,
      timezone: 'Z',
      supportBigNumbers: true,
      charset: 'utf8mb4',
    });
    const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
    const { rows } = await sql<{ v: string }>`select version() as v`.execute(db);
    const version = rows[0]?.v ?? '';
    return { db, dialect: 'mysql', supportsSkipLocked: skipLockedSupported(version), close: () => db.destroy() };
  }
  throw new Error(`DATABASE_URL must start with sqlite: or mysql:// (got ${JSON.stringify(url.split(':')[0])})`);
}

export function skipLockedSupported(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [maj, min, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (/mariadb/i.test(version)) return maj > 10 || (maj === 10 && min >= 6);
  return maj > 8 || (maj === 8 && (min > 0 || patch >= 1));
}

/** True when the database answers a trivial query (readiness). */
export async function ping(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
