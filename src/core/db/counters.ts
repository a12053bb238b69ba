import type { CompiledQuery, DatabaseConnection, Driver, QueryResult } from 'kysely';

/**
 * Statements and commits sent to the database by this process, counted where they are sent (every Kysely query and
 * every prepared statement of core/db/fast.ts), not estimated: the benchmark reads them to report statements and
 * commits per callback. A commit is an explicit COMMIT or a write statement run outside a transaction (autocommit).
 * BEGIN, COMMIT, ROLLBACK and SET are not counted as statements.
 */
export interface DbCounters {
  statements: number;
  commits: number;
}

export const dbCounters: DbCounters = { statements: 0, commits: 0 };

/** A copy of the counters now, for the benchmark's before/after. */
export const readDbCounters = (): DbCounters => ({ ...dbCounters });

const CONTROL = /^\s*(begin|start\s+transaction|commit|rollback|set\s|savepoint|release)/i;
const WRITE = /^\s*(insert|update|delete|replace)\b/i;
const COMMIT = /^\s*commit\b/i;
const OPENS = /^\s*(begin|start\s+transaction)\b/i;
const CLOSES = /^\s*(commit|rollback)\s*$/i;

/** Counts one statement sent on a connection; `inTx` tells whether that connection is inside a transaction. */
export function countStatement(sql: string, inTx: boolean): void {
  if (CONTROL.test(sql)) {
    if (COMMIT.test(sql)) dbCounters.commits++;
    return;
  }
  dbCounters.statements++;
  if (!inTx && WRITE.test(sql)) dbCounters.commits++;
}

/** Wraps a Kysely driver so that every statement on its connections is counted. */
export function countingDriver(driver: Driver): Driver {
  const acquire = driver.acquireConnection.bind(driver);
  const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
  driver.acquireConnection = async (): Promise<DatabaseConnection> => {
    const conn = await acquire();
    let w = wrapped.get(conn);
    if (!w) {
      let inTx = false;
      const execute = conn.executeQuery.bind(conn);
      w = conn;
      conn.executeQuery = <R>(q: CompiledQuery): Promise<QueryResult<R>> => {
        countStatement(q.sql, inTx);
        if (OPENS.test(q.sql)) inTx = true;
        else if (CLOSES.test(q.sql)) inTx = false;
        return execute<R>(q);
      };
      wrapped.set(conn, w);
    }
    return w;
  };
  return driver;
}
