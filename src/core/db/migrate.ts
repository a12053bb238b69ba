import { Migrator, type MigrationResultSet } from 'kysely';
import { migrations } from '../../../migrations/index.js';
import type { Db } from './database.js';

/** Applies every pending migration (Kysely takes a lock, so several instances starting at once is safe). */
export async function migrateToLatest(db: Db): Promise<string[]> {
  // Unordered: migration numbers were handed out to work done in parallel, so a database may have a later one (007)
  // before an earlier one (006) arrives; each migration stands alone, so the order they run in does not matter.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, allowUnorderedMigrations: true });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? '?'} failed: ${String((result.error as Error).message ?? result.error)}`, {
      cause: result.error,
    });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
