// `npm run reconcile`: one reconcile pass (payments, then refunds) against DATABASE_URL (what the app does every RECONCILE_INTERVAL_SECONDS),
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
    const refunds = await services.refunds.reconciler.runOnce();
    console.log(`  refunds: stranded to unknown ${refunds.strandedToUnknown}  status queries ${refunds.statusQueries}  unsettled ${refunds.unsettled}  late on cancelled shows ${refunds.lateCancelled}  sent ${refunds.sent}  results reprocessed ${refunds.resultsReprocessed}`);
    console.log(JSON.stringify({ ...report, refunds }));
  } finally {
    await services.stop();
  }
}, { logLevel: (level) => (level === 'info' ? 'warn' : level) });
