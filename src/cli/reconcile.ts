// `npm run reconcile`: one reconcile pass against DATABASE_URL (what the app does every RECONCILE_INTERVAL_SECONDS),
// then prints the report. Safe beside running app instances: tickets are claimed one instance at a time.
import { ConfigError, loadConfigFromEnvironment } from '../core/config.js';
import { openDatabase } from '../core/db/database.js';
import { migrateToLatest } from '../core/db/migrate.js';
import { createLogger } from '../core/logger.js';
import { DarajaClient } from '../daraja/daraja.client.js';
import { credentialFingerprint } from '../daraja/token-store.js';
import { DbTokenStore } from './daraja-token.store.js';
import { PaymentService } from './payment.service.js';
import { Reconciler } from './reconciler.js';

async function main(): Promise<number> {
  let config;
  try {
    config = await loadConfigFromEnvironment();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, pretty: Boolean(process.stderr.isTTY) });
  const database = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database.db);
    const now = () => new Date();
    // The running instances' token, so this pass does not knock it out by fetching its own.
    const tokenStore = new DbTokenStore(database.db, credentialFingerprint(config.daraja.baseUrl, config.daraja.consumerKey));
    const daraja = new DarajaClient(config.daraja, { logger: logger.child({ component: 'daraja' }), now, tokenStore });
    const payments = new PaymentService({ database, daraja, config, logger: logger.child({ component: 'payments' }), now });
    const reconciler = new Reconciler({ database, daraja, config, logger: logger.child({ component: 'reconciler' }), now, payments });
    const report = await reconciler.runOnce();
    console.log(`Reconciled against ${config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'MySQL'} (Daraja: ${config.darajaEnv}${config.mountSimulator ? ', the built-in simulator of the running app' : ''}):`);
    console.log(`  checked ${report.checked}  paid ${report.paid}  failed ${report.failed}  expired ${report.expired}  waiting ${report.waiting}  inbox rows reprocessed ${report.inboxReprocessed}`);
    console.log(JSON.stringify(report));
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { console.error('Reconcile failed:', err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
