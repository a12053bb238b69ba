import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { openDatabase, type DatabaseHandle, type Dialect } from '../../src/core/db/database.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';

/** SQLite always; MySQL too when TEST_MYSQL_URL is set (CI sets it). Use with describe.each(dialects). */
export const dialects: Dialect[] = process.env.TEST_MYSQL_URL ? ['sqlite', 'mysql'] : ['sqlite'];

export interface TestDatabase extends DatabaseHandle {
  url: string;
  /** Closes the connections and deletes the database (file or MySQL schema). */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database of its own for a test file: a temp SQLite file, or a new MySQL schema named
 * tikiti_t_<random> on the TEST_MYSQL_URL server, so parallel runs never collide.
 */
export async function createTestDatabase(dialect: Dialect, opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tikiti-test-'));
    url = `sqlite:${join(dir, 'test.db')}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const base = process.env.TEST_MYSQL_URL;
    if (!base) throw new Error('TEST_MYSQL_URL is not set');
    const name = `tikiti_t_${randomBytes(6).toString('hex')}`;
    const admin = await createConnection(base);
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    url = u.toString();
    cleanup = async () => {
      const c = await createConnection(base);
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    };
  }
  const handle = await openDatabase(url);
  if (opts.migrate !== false) await migrateToLatest(handle.db);
  let dropped = false;
  return {
    ...handle,
    url,
    async drop() {
      if (dropped) return;
      dropped = true;
      await handle.close();
      await cleanup();
    },
  };
}
