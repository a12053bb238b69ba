// `npm run reconcile`: one reconcile pass against DATABASE_URL (what the app does every RECONCILE_INTERVAL_SECONDS),
// then prints the report. Safe beside running app instances: tickets are claimed one instance at a time, and the
// Daraja token is the one they share.
import { buildServices } from '../compose.js';
import { runCli } from './run-cli.js';

runCli('Reconcile failed', async ({ config, logger }) => {
  const services = await buildServices(config, logger, { seed: false });
  try {
    const report = await services.payments.reconciler.runOnce();
    const where = config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'MySQL';
    const daraja = `${config.darajaEnv}${config.mountSimulator ? ', the built-in simulator of the running app' : ''}`;
    console.log(`Reconciled against ${where} (Daraja: ${daraja}):`);
    console.log(`  checked ${report.checked}  paid ${report.paid}  failed ${report.failed}  expired ${report.expired}  waiting ${report.waiting}  inbox rows reprocessed ${report.inboxReprocessed}`);
    console.log(JSON.stringify(report));
  } finally {
    await services.stop();
  }
}, { logLevel: (level) => (level === 'info' ? 'warn' : level) });
