import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase,
} from 'kysely';

/**
 * Waiting for SQLite's write lock without freezing the process (docs/adr/0038-sqlite-waits-off-the-event-loop.md).
 *
 * better-sqlite3 is synchronous: while SQLite's own busy handler waits for another process's write lock (a
 * `npm run reconcile` beside the app, a backup, an editor holding BEGIN IMMEDIATE), the whole event loop waits with it,
 * /healthz and callbacks included. So SQLite's busy timeout is kept to a few milliseconds (brief contention is absorbed
 * where it happens), and a statement still refused (SQLITE_BUSY) outside a transaction is tried again after a timer,
 * with the connection released meanwhile so the rest of the process keeps using it, until LOCK_WAIT_MS in all, the
 * patience the old 5 s busy timeout gave. Transactions begin IMMEDIATE, so the lock is waited for at BEGIN, where
 * retrying is safe, never in the middle of a transaction.
 */

/** SQLite's own busy timeout: how long one attempt may block the event loop. */
export const SQLITE_BUSY_TIMEOUT_MS = 10;
/** How long a statement waits for the lock in all, asynchronously, unless withLockWait says less. */
export const LOCK_WAIT_MS = 5000;

const budget = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with its SQLite statements waiting at most `ms` for another process's write lock (the callback intake: a
 * body it cannot store at once goes to the spool instead of keeping Safaricom waiting). No effect on MySQL.
 */
export function withLockWait<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  return budget.run(ms, fn);
}

/** True for SQLITE_BUSY and its variants (SQLITE_BUSY_SNAPSHOT…). */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Kysely's SQLite dialect, whose statements wait for the write lock off the event loop (see above). */
export class PatientSqliteDialect extends SqliteDialect {
  /** `sqlite`: the better-sqlite3 connection (its inTransaction says whether a statement may be tried again). */
  constructor(private readonly sqlite: SqliteDatabase & { readonly inTransaction: boolean }) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const sqlite = this.sqlite;
    const acquire = driver.acquireConnection.bind(driver);
    const release = driver.releaseConnection.bind(driver);
    const patient = new WeakMap<DatabaseConnection, DatabaseConnection>();
    driver.acquireConnection = async () => {
      const inner = await acquire();
      let wrapped = patient.get(inner);
      if (!wrapped) {
        wrapped = {
          streamQuery: (cq, chunkSize) => inner.streamQuery(cq, chunkSize),
          executeQuery: async <R>(cq: CompiledQuery): Promise<QueryResult<R>> => {
            const deadline = Date.now() + (budget.getStore() ?? LOCK_WAIT_MS);
            for (let attempt = 0; ; attempt++) {
              try {
                return await inner.executeQuery<R>(cq);
              } catch (err) {
                // Inside a transaction nothing may run between its statements, so a refusal there goes up (to
                // inTransaction, which starts the whole transaction again).
                if (!isSqliteBusy(err) || sqlite.inTransaction || Date.now() >= deadline) throw err;
              }
              await release(inner);
              try {
                await sleep(Math.min(2 ** attempt * 5, 50, Math.max(1, deadline - Date.now())));
              } finally {
                await acquire();
              }
            }
          },
        };
        patient.set(inner, wrapped);
      }
      return wrapped;
    };
    driver.releaseConnection = async (conn) => release(conn);
    // IMMEDIATE: the write lock is taken (and waited for) at BEGIN, not at the first write inside.
    driver.beginTransaction = async (conn) => {
      await conn.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}
