import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { Pool as CallbackPool, ResultSetHeader } from 'mysql2';
import type { Pool as PromisePool, PoolConnection as PromiseConnection } from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { countStatement } from './counters.js';
import { LOCK_WAIT_MS } from './sqlite-waits.js';

/**
 * The hot paths' way to the database (callback intake, the inbox applier, booking): SQL written once with `?`
 * placeholders, never built per call. On SQLite each text is prepared once (better-sqlite3 `prepare`) and the prepared
 * statement reused; on MySQL it is sent with its values through mysql2 without Kysely in between. The SQL itself still
 * lives only in src/store/; this module only runs it. Every statement is counted (counters.ts).
 *
 * On SQLite the one connection is shared with Kysely: a fast call holds Kysely's connection mutex while it runs, so it
 * can never slip into a transaction Kysely has open (and be rolled back with it).
 */
export interface FastOptions {
  /** In one transaction, committed when `fn` returns. */
  transaction?: boolean;
  /**
   * SQLite: how long to wait in all for another process's write lock, in short attempts with timers between them
   * (sqlite-waits.ts says why the event loop never waits for it); LOCK_WAIT_MS by default. MySQL: ignored.
   */
  lockWaitMs?: number;
}

export interface FastSql {
  /** Runs `fn` with one connection (see FastOptions). */
  run<T>(fn: (c: FastConnection) => Promise<T>, opts?: FastOptions): Promise<T>;
}

export interface FastConnection {
  /** A write: rows changed and the first id inserted. */
  exec(sql: string, params: readonly unknown[]): Promise<{ changes: number; insertId: number }>;
  /** A read. */
  all<R>(sql: string, params: readonly unknown[]): Promise<R[]>;
}

const ATTEMPTS = 4;

/** MySQL's deadlock (1213) and lock-wait timeout (1205), SQLite's SQLITE_BUSY: the transaction is tried again. */
function lockConflict(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown };
  if (e?.errno === 1213 || e?.errno === 1205) return true;
  return typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY');
}

async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= ATTEMPTS || !lockConflict(err)) throw err;
      await sleep(10 * attempt + Math.floor(Math.random() * 20));
    }
  }
}

/** SQLite: tries again while the write lock is busy, until `waitMs` has passed, sleeping between attempts. */
async function patiently<T>(waitMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!lockConflict(err) || Date.now() >= deadline) throw err;
      await sleep(Math.min(2 ** attempt * 5, 50, Math.max(1, deadline - Date.now())));
    }
  }
}

export function sqliteFast(conn: BetterSqlite3.Database, db: Kysely<any>): FastSql {
  const prepared = new Map<string, BetterSqlite3.Statement>();
  const statement = (sql: string) => {
    let s = prepared.get(sql);
    if (!s) {
      s = conn.prepare(sql);
      prepared.set(sql, s);
    }
    return s;
  };
  const begin = conn.prepare('BEGIN IMMEDIATE');
  const commit = conn.prepare('COMMIT');
  const rollback = conn.prepare('ROLLBACK');
  return {
    run<T>(fn: (c: FastConnection) => Promise<T>, opts: FastOptions = {}): Promise<T> {
      const tx = Boolean(opts.transaction);
      const c: FastConnection = {
        async exec(sql, params) {
          countStatement(sql, tx);
          const r = statement(sql).run(...(params as unknown[]));
          return { changes: r.changes, insertId: Number(r.lastInsertRowid) };
        },
        async all<R>(sql: string, params: readonly unknown[]) {
          countStatement(sql, tx);
          return statement(sql).all(...(params as unknown[])) as R[];
        },
      };
      return patiently(opts.lockWaitMs ?? LOCK_WAIT_MS, () => db.connection().execute(async () => {
        if (conn.inTransaction) throw new Error('fast SQL on a connection inside a transaction');
        if (!tx) return fn(c);
        begin.run();
        try {
          const result = await fn(c);
          commit.run();
          countStatement('COMMIT', true);
          return result;
        } catch (err) {
          if (conn.inTransaction) rollback.run();
          throw err;
        }
      }));
    },
  };
}

export function mysqlFast(callbackPool: CallbackPool): FastSql {
  const pool: PromisePool = callbackPool.promise();
  const on = (q: PromisePool | PromiseConnection, tx: boolean): FastConnection => ({
    async exec(sql, params) {
      countStatement(sql, tx);
      const [r] = await q.query<ResultSetHeader>(sql, params as unknown[]);
      return { changes: r.affectedRows, insertId: r.insertId };
    },
    async all<R>(sql: string, params: readonly unknown[]) {
      countStatement(sql, tx);
      const [rows] = await q.query(sql, params as unknown[]);
      return rows as R[];
    },
  });
  const direct = on(pool, false);
  return {
    run<T>(fn: (c: FastConnection) => Promise<T>, opts: FastOptions = {}): Promise<T> {
      if (!opts.transaction) return fn(direct);
      return retrying(async () => {
        const conn = await pool.getConnection();
        try {
          // READ COMMITTED like every transaction of ours (core/db/transaction.ts says why): the pool sets it on each
          // new connection (database.ts), which saves a round trip here.
          await conn.query('START TRANSACTION');
          try {
            const result = await fn(on(conn, true));
            await conn.query('COMMIT');
            countStatement('COMMIT', true);
            return result;
          } catch (err) {
            await conn.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        } finally {
          conn.release();
        }
      });
    },
  };
}
