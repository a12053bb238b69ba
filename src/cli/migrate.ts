import { ConfigError, loadConfigFromEnvironment } from '../config.js';
import { seedDemoMoviesIfNoneUpcoming } from '../../movies/demo-movies.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL and, outside production, seeds the demo catalogue. */
async function main(): Promise<void> {
  const config = await loadConfigFromEnvironment();
  const database = await openDatabase(config.databaseUrl);
  try {
    const applied = await migrateToLatest(database.db);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
    if (config.darajaEnv !== 'production' && !process.argv.includes('--no-seed')) {
      const seeded = await seedDemoMoviesIfNoneUpcoming(database.db);
      if (seeded) console.log(`Seeded ${seeded} demo movies.`);
    }
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('Migration failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
