// `npm run migrate [-- --no-seed]`: applies pending migrations to DATABASE_URL and, outside production, seeds the demo
// catalogue when no show is upcoming.
import { openDatabase } from '../core/db/database.js';
import { migrateToLatest } from '../core/db/migrate.js';
import { seedDemoMoviesIfNoneUpcoming } from '../movies/demo-movies.js';
import { runCli } from './run-cli.js';

runCli('Migration failed', async ({ config, args }) => {
  const database = await openDatabase(config.databaseUrl);
  try {
    const applied = await migrateToLatest(database.db);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
    if (!config.isProduction && !args.includes('--no-seed')) {
      const seeded = await seedDemoMoviesIfNoneUpcoming(database.db);
      if (seeded) console.log(`Seeded ${seeded} demo movies.`);
    }
  } finally {
    await database.close();
  }
});
