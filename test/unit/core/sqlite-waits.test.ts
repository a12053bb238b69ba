import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../../src/core/db/database.js';
import { isSqliteBusy, withLockWait } from '../../../src/core/db/sqlite-waits.js';
import { toDbTime } from '../../../src/core/db/time.js';

// A second connection to the same file stands in for another process holding SQLite's write lock.

describe('waiting for SQLite\'s write lock', () => {
  let dir: string;
  let handle: DatabaseHandle;
  let other: Database.Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tikiti-waits-'));
    handle = await openDatabase(`sqlite:${join(dir, 'w.db')}`);
    await handle.db.schema.createTable('appsecret').addColumn('name', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('value', 'varchar(255)', (c) => c.notNull()).addColumn('createdAt', 'varchar(30)', (c) => c.notNull()).execute();
    other = new Database(join(dir, 'w.db'));
  });
  afterAll(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (name: string) => handle.db.insertInto('appsecret').values({ name, value: 'v', createdAt: toDbTime(new Date()) }).execute();
  const names = async () => (await handle.db.selectFrom('appsecret').select('name').orderBy('name').execute()).map((r) => r.name);

  it('when another connection holds the lock, then a write waits without blocking the event loop, reads go on meanwhile, and it is done once the lock goes', async () => {
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const write = insert('waited');
    await new Promise((r) => setTimeout(r, 300));
    expect(await names()).toEqual([]); // a read on the same connection while the write waits
    other.exec('COMMIT');
    await write;
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5); // a blocked loop would have ticked about once (a busy machine coalesces timers, so not 30)
    expect(await names()).toEqual(['waited']);
  });

  it('when a transaction begins while the lock is held, then it waits at BEGIN and runs once the lock goes', async () => {
    other.exec('BEGIN IMMEDIATE');
    const tx = handle.db.transaction().execute(async (t) => {
      await t.insertInto('appsecret').values({ name: 'in-tx', value: 'v', createdAt: toDbTime(new Date()) }).execute();
    });
    await new Promise((r) => setTimeout(r, 150));
    other.exec('COMMIT');
    await tx;
    expect(await names()).toContain('in-tx');
  });

  it('when withLockWait allows 20 ms, then the write gives up with SQLITE_BUSY within a few tens of milliseconds', async () => {
    other.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    const refused = await withLockWait(20, () => insert('never')).then(() => undefined, (e: unknown) => e);
    const ms = performance.now() - started;
    other.exec('ROLLBACK');
    expect(isSqliteBusy(refused)).toBe(true);
    expect(ms).toBeLessThan(500);
    expect(await names()).not.toContain('never');
  });
});
