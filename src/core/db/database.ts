import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  CompiledQuery, Kysely, MysqlDialect, SelectQueryNode, sql,
  type DatabaseConnection, type Driver, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode,
  type SelectModifier, type Transaction, type UnknownRow,
} from 'kysely';
import { countingDriver } from './counters.js';
import { mysqlFast, sqliteFast, type FastSql } from './fast.js';
import { checkpointInBackground } from './sqlite-checkpoints.js';
import type { Database } from './schema.js';
import { PatientSqliteDialect, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-waits.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type Dialect = 'sqlite' | 'mysql';

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  /** Prepared statements for the hot paths (fast.ts); only src/store/ gives it SQL. */
  fast: FastSql;
  close(): Promise<void>;
}

/**
 * Row locks, written once for both databases. Repositories lock with `.forUpdate()` (and claim with `.skipLocked()`)
 * as MySQL wants; this plugin drops what the server cannot do:
 * - SQLite has no row locks: inTransaction begins with BEGIN IMMEDIATE, which already holds the database's only write
 *   lock, so both clauses go;
 * - MySQL before 8.0.1 and MariaDB before 10.6 know FOR UPDATE but not SKIP LOCKED: a claim then waits for the other
 *   claimer's short transaction instead of skipping its rows, which is slower but just as correct.
 */
class RowLockPlugin implements KyselyPlugin {
  constructor(public dropped: ReadonlySet<SelectModifier>) {}

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (!SelectQueryNode.is(node) || !node.endModifiers?.length) return node;
    const kept = node.endModifiers.filter((m) => m.modifier === undefined || !this.dropped.has(m.modifier));
    if (kept.length === node.endModifiers.length) return node;
    return Object.freeze({ ...node, endModifiers: kept.length ? Object.freeze(kept) : undefined });
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

const SQLITE_DROPS = new Set<SelectModifier>(['ForUpdate', 'ForShare', 'ForKeyShare', 'ForNoKeyUpdate', 'SkipLocked', 'NoWait']);
const NO_SKIP_LOCKED = new Set<SelectModifier>(['SkipLocked']);
const NOTHING = new Set<SelectModifier>();

/** Opens the database DATABASE_URL names: `sqlite:PATH` (file created, WAL) or `mysql://…` (pooled). */
export async function openDatabase(url: string, opts: { poolSize?: number } = {}): Promise<DatabaseHandle> {
  if (url.startsWith('sqlite:')) {
    const { default: SQLite } = await import('better-sqlite3');
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    const conn = new SQLite(path);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    // Short: while SQLite waits here the whole process waits; longer waits happen off the event loop (sqlite-waits.ts).
    conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    conn.pragma('foreign_keys = ON');
    const stopCheckpoints = path === ':memory:' ? async () => undefined : checkpointInBackground(conn, path);
    const db = new Kysely<Database>({ dialect: new CountingSqliteDialect(conn), plugins: [new RowLockPlugin(SQLITE_DROPS)] });
    return {
      db, dialect: 'sqlite', fast: sqliteFast(conn, db),
      close: async () => {
        await stopCheckpoints();
        await db.destroy();
      },
    };
  }
  if (url.startsWith('mysql://')) {
    const { createPool } = await import('mysql2');
    const pool = createPool({
      uri: url,
      connectionLimit: opts.poolSize ?? 16,
      // Times are stored as UTC strings; never let the driver shift them through the server's zone.
      dateStrings: true,
      timezone: 'Z',
      supportBigNumbers: true,
      charset: 'utf8mb4',
    });
    // Every transaction of ours runs READ COMMITTED (transaction.ts says why); set once per connection, so the hot
    // paths' transactions (fast.ts) need no extra round trip for it.
    pool.on('connection', (c) => {
      c.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => undefined);
    });
    // Until the server has said what it is, claims wait rather than skip (correct on every version); the first
    // connection it gives tells (ProbingMysqlDialect). Asking at open would make a start fail while MySQL is away.
    const locks = new RowLockPlugin(NO_SKIP_LOCKED);
    const db = new Kysely<Database>({ dialect: new ProbingMysqlDialect({ pool }, locks), plugins: [locks] });
    return { db, dialect: 'mysql', fast: mysqlFast(pool), close: () => db.destroy() };
  }
  throw new Error(`DATABASE_URL must start with sqlite: or mysql:// (got ${JSON.stringify(url.split(':')[0])})`);
}

/** MySQL's dialect, asking the server its version on each new connection until one answers, to set the row-lock plugin. */
class ProbingMysqlDialect extends MysqlDialect {
  private known = false;

  constructor(config: ConstructorParameters<typeof MysqlDialect>[0], private readonly locks: RowLockPlugin) {
    super(config);
  }

  override createDriver(): Driver {
    const driver = countingDriver(super.createDriver());
    const acquire = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async (): Promise<DatabaseConnection> => {
      const conn = await acquire();
      if (this.known) return conn;
      try {
        const { rows } = await conn.executeQuery<{ v: string }>(CompiledQuery.raw('select version() as v'));
        this.locks.dropped = skipLockedSupported(String(rows[0]?.v ?? '')) ? NOTHING : NO_SKIP_LOCKED;
        this.known = true;
      } catch (err) {
        await driver.releaseConnection(conn).catch(() => undefined);
        throw err;
      }
      return conn;
    };
    return driver;
  }
}

/** SQLite's dialect (its lock waits off the event loop, sqlite-waits.ts) with every statement counted (counters.ts). */
class CountingSqliteDialect extends PatientSqliteDialect {
  override createDriver(): Driver {
    return countingDriver(super.createDriver());
  }
}

/** True when the server can `SELECT … FOR UPDATE SKIP LOCKED` (MySQL ≥ 8.0.1, MariaDB ≥ 10.6). */
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
