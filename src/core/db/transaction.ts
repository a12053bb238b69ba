import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { DatabaseHandle, Db, Tx } from './database.js';

/** What a repository function runs on inside `inTransaction`: a Kysely transaction, or SQLite's single connection. */
export type Executor = Db | Tx;

const ATTEMPTS = 4;

/**
 * Runs `fn` in one transaction, again (up to 4 times in all) when the database says it lost a lock race: MySQL's
 * deadlock (1213) and lock-wait timeout (1205), SQLite's SQLITE_BUSY. `fn` must therefore only touch the database,
 * and only through the executor it is given: on SQLite that is the one connection, so using `database.db` inside
 * would wait for itself forever.
 *
 * MySQL runs it READ COMMITTED: correctness here rests on row locks (FOR UPDATE) and conditional updates, never on
 * a snapshot, and under REPEATABLE READ a plain SELECT after a lock wait would still see the world from before it
 * (e.g. miss a retry's newer attempt). On SQLite the transaction starts with BEGIN IMMEDIATE, which takes the write
 * lock before the first read: a plain BEGIN would read a snapshot, and a second process (`npm run reconcile` beside
 * the app) committing in between would make our first write fail at once with SQLITE_BUSY_SNAPSHOT.
 */
export async function inTransaction<T>(database: DatabaseHandle, fn: (tx: Executor) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (database.dialect === 'mysql') return await database.db.transaction().setIsolationLevel('read committed').execute(fn);
      return await database.db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => undefined);
          throw err;
        }
      });
    } catch (err) {
      if (attempt >= ATTEMPTS || !isLockConflict(err)) throw err;
      await sleep(10 * attempt + Math.floor(Math.random() * 20));
    }
  }
}

export function isLockConflict(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown };
  if (e?.errno === 1213 || e?.errno === 1205) return true;
  return typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY');
}

/** MySQL's duplicate-key error (a unique index refused the row). */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown };
  return e?.errno === 1062 || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * An error fit for a log line: type, message, code and stack, but not the driver's extra fields. mysql2 puts the
 * whole statement with its values inlined on `err.sql`, which for the inbox would be a raw callback body (a phone
 * number, a receipt) in the logs.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: unknown; errno?: unknown };
  return {
    type: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    stack: e.stack,
  };
}
