import type { DatabaseHandle } from '../core/db/database.js';
import { inTransaction, loggableError } from '../core/db/transaction.js';
import { PeriodicJob, type BackgroundJob } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { DarajaClient } from '../daraja/daraja.client.js';
import { inboxRowsLeftReceived } from '../store/callback-inbox.repository.js';
import { cancelledMovieIds } from '../store/movie.repository.js';
import { claimDueStatusChecks, findRefund, markUnknown, recordStatusQuery, takenButUnanswered } from '../store/refund.repository.js';
import type { RefundResultIntake } from './refund-results.js';
import type { RefundSender } from './refund-sender.js';
import type { RefundService } from './refund.service.js';

export interface RefundReconcileReport {
  /** Taken for sending and never answered (a crash): now unknown, for Transaction Status. */
  strandedToUnknown: number;
  /** Transaction Status queries sent. */
  statusQueries: number;
  /** Refunds still unsettled after UNSETTLED_AFTER_CHECKS queries: reported for an operator. */
  unsettled: number;
  /** Refunds recorded for payments that reached a cancelled show after it was cancelled. */
  lateCancelled: number;
  sent: number;
  /** Reversal results a crash or a failed transaction left 'received', processed this run. */
  resultsReprocessed: number;
}

export interface RefundReconcilerDeps {
  database: DatabaseHandle;
  daraja: Pick<DarajaClient, 'transactionStatus'>;
  sender: RefundSender;
  refunds: RefundService;
  results: Pick<RefundResultIntake, 'reprocess'>;
  logger: Logger;
  now: () => Date;
  config: { reconcileIntervalSeconds: number; darajaTimeoutMs: number };
}

/** After this many Transaction Status queries without a verdict a refund is reported as one M-Pesa will not settle. */
export const UNSETTLED_AFTER_CHECKS = 10;
const BATCH = 100;
/** A sender that took a refund and heard nothing for this long beyond Daraja's timeout has stopped (crashed). */
const STRANDED_GRACE_MS = 30_000;
/** A 'received' result younger than this may still be in the hands of the request that stored it. */
const RECEIVED_GRACE_MS = 5_000;

/**
 * Settles refunds whose result did not come, every RECONCILE_INTERVAL_SECONDS: a refund taken for sending but never
 * answered (the process died in between) becomes unknown, never sent again; accepted and unknown refunds due for a
 * check are asked about with Transaction Status (its result comes to ResultURL and is applied there); those still
 * unsettled after many checks are logged as errors and listed on the admin refunds page. It also records refunds for
 * payments that reached a cancelled show late, and sends refunds due again after a spike-arrest refusal.
 */
export class RefundReconciler implements BackgroundJob {
  readonly name = 'refund-reconciler';
  private readonly job: PeriodicJob<RefundReconcileReport>;

  constructor(private readonly deps: RefundReconcilerDeps) {
    this.job = new PeriodicJob({
      run: () => this.run(),
      timed: () => this.runOnce(),
      firstMs: Math.min(2_000, deps.config.reconcileIntervalSeconds * 1000),
      everyMs: () => deps.config.reconcileIntervalSeconds * 1000,
      logger: deps.logger, event: 'refunds.reconcile.failed', failure: 'refund reconcile run failed',
    });
  }

  start(): void {
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job.stop();
    await this.deps.sender.stop();
  }

  runOnce(): Promise<RefundReconcileReport> {
    return this.job.runOnce();
  }

  private async run(): Promise<RefundReconcileReport> {
    const { database, logger } = this.deps;
    const report: RefundReconcileReport = { strandedToUnknown: 0, statusQueries: 0, unsettled: 0, lateCancelled: 0, sent: 0, resultsReprocessed: 0 };
    const now = this.deps.now();

    for (const row of await inboxRowsLeftReceived(database.db, new Date(now.getTime() - RECEIVED_GRACE_MS), BATCH, now, ['reversal'])) {
      try {
        if ((await this.deps.results.reprocess(row)) !== 'received') report.resultsReprocessed++;
      } catch (err) {
        logger.error({ event: 'refunds.reconcile.result_failed', err: loggableError(err), callbackId: row.callbackId }, 'reversal result could not be processed');
      }
    }

    const strandedBefore = new Date(now.getTime() - this.deps.config.darajaTimeoutMs - STRANDED_GRACE_MS);
    for (const id of await takenButUnanswered(database.db, strandedBefore, BATCH)) {
      if (await markUnknown(database.db, id, 'Sent (or about to be) when the app stopped, no answer kept: Transaction Status will tell', { now, checkAt: now })) {
        report.strandedToUnknown++;
        logger.warn({ event: 'refunds.stranded', refundId: id }, 'refund taken for sending but never answered; asking Transaction Status instead of sending again');
      }
    }

    const next = new Date(now.getTime() + this.deps.config.reconcileIntervalSeconds * 1000);
    const due = await inTransaction(database, (tx) => claimDueStatusChecks(tx, this.deps.now(), next, BATCH));
    for (const id of due) {
      if (this.job.stopping) break;
      await this.askStatus(id, report);
    }

    for (const movieId of await cancelledMovieIds(database.db, 20)) report.lateCancelled += await this.deps.refunds.refundCancelled(movieId);
    report.sent = await this.deps.sender.drain();
    if (report.strandedToUnknown || report.statusQueries || report.unsettled || report.lateCancelled || report.sent || report.resultsReprocessed) {
      logger.info({ event: 'refunds.reconciled', ...report }, 'refund reconcile run');
    }
    return report;
  }

  private async askStatus(refundId: number, report: RefundReconcileReport): Promise<void> {
    const { database, daraja, logger } = this.deps;
    const refund = await findRefund(database.db, refundId);
    if (!refund || (refund.status !== 'accepted' && refund.status !== 'unknown')) return;
    if (refund.statusChecks >= UNSETTLED_AFTER_CHECKS) {
      report.unsettled++;
      if (refund.statusChecks === UNSETTLED_AFTER_CHECKS) {
        logger.error({ event: 'refunds.unsettled', refundId, ticketId: refund.ticketId, status: refund.status, checks: refund.statusChecks },
          `refund #${refundId} is still ${refund.status} after ${refund.statusChecks} Transaction Status queries: check it on the M-Pesa org portal (listed on /admin/refunds)`);
      }
    }
    try {
      const ack = await daraja.transactionStatus(refund.transactionId, `Refund ${refundId}`);
      await recordStatusQuery(database.db, refundId, ack, this.deps.now());
      report.statusQueries++;
    } catch (err) {
      logger.warn({ event: 'refunds.status_failed', refundId, code: (err as { code?: string }).code }, 'Transaction Status could not be asked; will ask again');
    }
  }
}
