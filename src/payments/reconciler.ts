import type { DatabaseHandle } from '../core/db/database.js';
import { fromDbTime } from '../core/db/time.js';
import { inTransaction, loggableError } from '../core/db/transaction.js';
import { PeriodicJob, type BackgroundJob } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { DarajaClient, StkQueryResult } from '../daraja/daraja.client.js';
import { inboxRowsLeftReceived, unmatchedRowsNowKnown } from '../store/callback-inbox.repository.js';
import { latestOpenPushWithId } from '../store/push-request.repository.js';
import { claimDueTickets, findTicket, scheduleFirstChecks } from '../store/ticket.repository.js';
import type { CallbackIntake } from './callback-intake.js';
import type { ResultApplier } from './result-applier.js';

export interface ReconcileReport {
  /** Pending tickets claimed and looked at. */
  checked: number;
  paid: number;
  failed: number;
  /** Failed "No answer from M-Pesa" after 10 × PAYMENT_TIMEOUT_SECONDS. */
  expired: number;
  /** Still processing, no id to ask about yet, or Daraja could not be asked. */
  waiting: number;
  /** Inbox rows a crash left 'received', and 'unmatched' rows whose attempt is now known, processed this run. */
  inboxReprocessed: number;
}

export interface ReconcilerDeps {
  database: DatabaseHandle;
  daraja: DarajaClient;
  applier: ResultApplier;
  intake: CallbackIntake;
  config: { paymentTimeoutSeconds: number; reconcileIntervalSeconds: number };
  logger: Logger;
  now: () => Date;
}

/** A 'received' row younger than this may still be in the hands of the request that stored it. */
const RECEIVED_GRACE_MS = 5_000;
const BATCH = 100;
const MAX_BATCHES = 10;
/** Tickets queried at once: Daraja's spike arrest (500.003.02) punishes bursts. */
const CONCURRENCY = 4;

/**
 * Settles what callbacks did not: every RECONCILE_INTERVAL_SECONDS it claims the Pending tickets due for a check,
 * asks STK Query about their newest open attempt and applies a final answer as a callback would be; after
 * 10 × PAYMENT_TIMEOUT_SECONDS it gives up on them ("No answer from M-Pesa"). It also moves callbacks spooled while
 * the database was down into the inbox, and processes inbox rows a crash left behind. Several instances may run: a
 * ticket is claimed by one at a time and its nextCheckAt moves one interval on, so it is queried at most once per
 * interval (store/ticket.repository.ts, claimDueTickets).
 */
export class Reconciler implements BackgroundJob {
  readonly name = 'reconciler';
  private readonly job: PeriodicJob<ReconcileReport>;

  constructor(private readonly deps: ReconcilerDeps) {
    this.job = new PeriodicJob({
      run: () => this.run(),
      timed: () => this.runOnce(),
      // Soon after start: rows a crash left 'received' and tickets that fell due while we were down.
      firstMs: Math.min(1_000, deps.config.reconcileIntervalSeconds * 1000),
      everyMs: () => deps.config.reconcileIntervalSeconds * 1000,
      logger: deps.logger, event: 'payments.reconcile.failed', failure: 'reconcile run failed',
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass. Runs never overlap within an instance: a call during a run gets that run's report. */
  runOnce(): Promise<ReconcileReport> {
    return this.job.runOnce();
  }

  private async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, paid: 0, failed: 0, expired: 0, waiting: 0, inboxReprocessed: 0 };
    await this.drainSpool();
    report.inboxReprocessed = await this.reprocessInbox();
    await this.scheduleUnscheduled();
    for (let batch = 0; batch < MAX_BATCHES && !this.job.stopping; batch++) {
      const claimed = await this.claimDue();
      await eachLimited(claimed, CONCURRENCY, (ticketId) => this.reconcileTicket(ticketId, report));
      if (claimed.length < BATCH) break;
    }
    if (report.checked > 0 || report.inboxReprocessed > 0) {
      this.deps.logger.info({ event: 'payments.reconciled', ...report }, 'reconcile run');
    }
    return report;
  }

  /** Callbacks spooled while the database was down go into the inbox first, so this run settles them like the rest. */
  private async drainSpool(): Promise<void> {
    try {
      await this.deps.intake.drainSpool();
    } catch (err) {
      // The disk, not the database: the spool stays as it is and the next run tries again.
      this.deps.logger.error({ event: 'payments.spool.drain_failed', err: loggableError(err) }, 'could not read the callback spool');
    }
  }

  /** Inbox rows a crash left 'received', then 'unmatched' rows whose CheckoutRequestID an attempt now carries. */
  private async reprocessInbox(): Promise<number> {
    const { database, applier, logger } = this.deps;
    let n = 0;
    const now = this.deps.now();
    const left = await inboxRowsLeftReceived(database.db, new Date(now.getTime() - RECEIVED_GRACE_MS), BATCH, now);
    for (const row of left) {
      try {
        if ((await applier.processInboxRow(row)) !== 'received') n++;
      } catch (err) {
        logger.error({ event: 'payments.reconcile.inbox_failed', err: loggableError(err), callbackId: row.callbackId }, 'inbox row could not be processed');
      }
    }
    for (const row of await unmatchedRowsNowKnown(database.db, BATCH)) {
      try {
        if ((await applier.processInboxRow(row)) !== 'unmatched') n++;
      } catch (err) {
        logger.error({ event: 'payments.reconcile.inbox_failed', err: loggableError(err), callbackId: row.callbackId }, 'inbox row could not be processed');
      }
    }
    return n;
  }

  /** A Pending ticket without nextCheckAt is due PAYMENT_TIMEOUT_SECONDS after pendingSince. */
  private async scheduleUnscheduled(): Promise<void> {
    await scheduleFirstChecks(this.deps.database.db, this.deps.config.paymentTimeoutSeconds * 1000, BATCH * MAX_BATCHES);
  }

  /** Claims up to BATCH due tickets for this instance by moving their nextCheckAt one interval on. */
  private claimDue(): Promise<number[]> {
    const now = this.deps.now();
    const next = new Date(now.getTime() + this.deps.config.reconcileIntervalSeconds * 1000);
    return inTransaction(this.deps.database, (tx) => claimDueTickets(tx, now, next, BATCH));
  }

  private async reconcileTicket(ticketId: number, report: ReconcileReport): Promise<void> {
    const { database, daraja, applier, logger, config } = this.deps;
    if (this.job.stopping) return;
    try {
      const ticket = await findTicket(database.db, ticketId);
      if (ticket?.paymentStatus !== 'Pending') return;
      report.checked++;
      const ageMs = this.deps.now().getTime() - fromDbTime(ticket.pendingSince).getTime();
      const tooOld = ageMs >= 10 * config.paymentTimeoutSeconds * 1000;

      const push = await latestOpenPushWithId(database.db, ticketId);
      if (push?.checkoutRequestId) {
        let answer: StkQueryResult | undefined;
        try {
          answer = await daraja.stkQuery(push.checkoutRequestId);
        } catch (err) {
          // Daraja down, busy or confused: ask again next interval. The client has logged the details.
          logger.warn({ event: 'payments.reconcile.query_failed', ticketId, checkoutRequestId: push.checkoutRequestId, code: (err as { code?: string }).code },
            'STK Query failed; will ask again');
        }
        if (answer && answer.state !== 'processing') {
          await applier.recordQueryResult(ticketId, push.checkoutRequestId, answer);
          const after = await findTicket(database.db, ticketId);
          if (after?.paymentStatus === 'Paid') { report.paid++; return; }
          if (after?.paymentStatus === 'Failed') { report.failed++; return; }
        }
      }
      if (tooOld && (await applier.expire(ticketId))) {
        report.expired++;
        return;
      }
      report.waiting++;
    } catch (err) {
      logger.error({ event: 'payments.reconcile.ticket_failed', err: loggableError(err), ticketId }, 'could not reconcile ticket');
    }
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. `fn` must not reject. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const item = items[i++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
