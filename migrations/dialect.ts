import { sql, type Kysely } from 'kysely';

/**
 * Which database a migration runs on, asked of the database itself (a migration gets only the Kysely instance):
 * SQLite answers sqlite_version(), MySQL and MariaDB refuse it. Not a migration: migrations/index.ts lists those.
 */
export async function isSqlite(db: Kysely<any>): Promise<boolean> {
  try {
    await sql`select sqlite_version()`.execute(db);
    return true;
  } catch {
    return false;
  }
}
