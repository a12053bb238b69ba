import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createConnection, type Connection } from 'mysql2/promise';
import { openDatabase, type DatabaseHandle, type Dialect } from '../../src/core/db/database.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';

export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/tikiti_bench';

/** Writes many rows fast, bypassing Kysely: prepared multi-row INSERTs (SQLite) or `VALUES ?` batches (MySQL). */
export interface BulkWriter {
  insert(table: string, columns: readonly string[], rows: unknown[][]): Promise<void>;
  exec(statement: string): Promise<void>;
  /** Commits what was written so far and starts a new transaction (keeps MySQL's undo log small). */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

/** One benchmark database: a temp SQLite file, or the BENCH_MYSQL_URL schema (dropped and created again by `reset`). */
export interface BenchDatabase {
  dialect: Dialect;
  url: string;
  /** Empty, migrated database. */
  reset(): Promise<void>;
  open(opts?: { poolSize?: number }): Promise<DatabaseHandle>;
  bulk(): Promise<BulkWriter>;
  version(): Promise<string>;
  dispose(): Promise<void>;
}

export function benchDatabase(dialect: Dialect, workDir: string, mysqlUrl = process.env.BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL): BenchDatabase {
  return dialect === 'sqlite' ? sqliteBench(workDir) : mysqlBench(mysqlUrl);
}

function sqliteBench(workDir: string): BenchDatabase {
  const dir = join(workDir, 'sqlite');
  const file = join(dir, 'bench.db');
  const url = `sqlite:${file}`;
  const remove = () => {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  };
  return {
    dialect: 'sqlite',
    url,
    async reset() {
      mkdirSync(dir, { recursive: true });
      remove();
      const h = await openDatabase(url);
      try {
        await migrateToLatest(h.db);
      } finally {
        await h.close();
      }
    },
    open: (opts) => openDatabase(url, opts),
    async bulk() {
      const { default: SQLite } = await import('better-sqlite3');
      const conn = new SQLite(file);
      conn.pragma('journal_mode = WAL');
      // A generated database: losing it in a power cut costs a re-run, so skip the fsyncs.
      conn.pragma('synchronous = OFF');
      conn.pragma('cache_size = -262144');
      const statements = new Map<string, import('better-sqlite3').Statement>();
      conn.exec('BEGIN');
      return {
        async insert(table, columns, rows) {
          if (rows.length === 0) return;
          const key = `${table}:${rows.length}`;
          let st = statements.get(key);
          if (!st) {
            const one = `(${columns.map(() => '?').join(',')})`;
            st = conn.prepare(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${Array(rows.length).fill(one).join(',')}`);
            statements.set(key, st);
          }
          st.run(rows.flat());
        },
        async exec(statement) {
          conn.exec(statement);
        },
        // The whole fill is one transaction on SQLite: nothing else has the file open yet.
        async checkpoint() {},
        async close() {
          conn.exec('COMMIT');
          conn.pragma('wal_checkpoint(TRUNCATE)');
          conn.exec('ANALYZE');
          conn.close();
        },
      };
    },
    async version() {
      const h = await openDatabase(url);
      try {
        const { rows } = await sql<{ v: string }>`select sqlite_version() as v`.execute(h.db);
        return `SQLite ${rows[0]?.v ?? '?'}`;
      } finally {
        await h.close();
      }
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mysqlBench(baseUrl: string): BenchDatabase {
  const u = new URL(baseUrl);
  const name = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'tikiti_bench';
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`BENCH_MYSQL_URL: database name ${JSON.stringify(name)} must be letters, digits and _`);
  const server = new URL(baseUrl);
  server.pathname = '/';
  const serverUrl = server.toString();
  u.pathname = `/${name}`;
  const url = u.toString();
  const admin = async <T>(fn: (c: Connection) => Promise<T>): Promise<T> => {
    const c = await createConnection(serverUrl);
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    dialect: 'mysql',
    url,
    async reset() {
      await admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      });
      const h = await openDatabase(url);
      try {
        await migrateToLatest(h.db);
      } finally {
        await h.close();
      }
    },
    open: (opts) => openDatabase(url, opts),
    async bulk() {
      const conn = await createConnection({ uri: url, dateStrings: true, timezone: 'Z', charset: 'utf8mb4' });
      // Bulk load: the generator guarantees unique keys and valid references, so skip re-checking them row by row.
      await conn.query('SET SESSION unique_checks = 0, foreign_key_checks = 0');
      await conn.query('START TRANSACTION');
      return {
        async insert(table, columns, rows) {
          if (rows.length === 0) return;
          await conn.query(`INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(',')}) VALUES ?`, [rows]);
        },
        async exec(statement) {
          await conn.query(statement);
        },
        async checkpoint() {
          await conn.query('COMMIT');
          await conn.query('START TRANSACTION');
        },
        async close() {
          await conn.query('COMMIT');
          await conn.query('SET SESSION unique_checks = 1, foreign_key_checks = 1');
          for (const t of ['movie', 'ticket', 'pushrequest', 'callbackinbox']) await conn.query(`ANALYZE TABLE \`${t}\``);
          await conn.end();
        },
      };
    },
    async version() {
      return admin(async (c) => {
        const [rows] = await c.query('select version() as v');
        const v = String((rows as Array<{ v: string }>)[0]?.v ?? '?');
        return /mariadb/i.test(v) ? `MariaDB ${v}` : `MySQL ${v}`;
      });
    },
    async dispose() {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``));
    },
  };
}

/** Whether the MySQL server answers (the run skips MySQL figures, and says so, when it does not). */
export async function mysqlReachable(baseUrl = process.env.BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL): Promise<boolean> {
  try {
    const server = new URL(baseUrl);
    server.pathname = '/';
    const c = await createConnection({ uri: server.toString(), connectTimeout: 2000 });
    await c.end();
    return true;
  } catch {
    return false;
  }
}
