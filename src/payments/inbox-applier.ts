import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { DatabaseHandle } from '../core/db/database.js';
import { inTransaction, loggableError } from '../core/db/transaction.js';
import type { BackgroundJob } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import { receivedRowsLeasedTo, releaseLease, takeOverExpiredLeases } from '../store/callback-inbox.repository.js';
import type { CallbackInboxRow } from '../core/db/schema.js';
import type { AttemptWithTicket } from '../store/push-request.repository.js';
import { prefetchAttempts } from './fast-apply.js';
import type { ResultApplier } from './result-applier.js';

/** How long a row stays leased to the instance that stored it (or took it over) before another may apply it. */
export const INBOX_LEASE_MS = 5_000;
/** Rows taken per round. */
const BATCH = 64;
/** The timer for leftovers: rows whose lease ran out (another instance died) and rows a failure gave back. */
const SWEEP_MS = 1_000;
/** A row whose processing failed is given back and tried again (by any instance) after this. */
const RETRY_MS = 10_000;

/** This process's name on the rows it leases: host, pid and a random part (a pid can be reused after a restart). */
export function newInstanceId(): string {
  return `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface InboxApplierDeps {
  database: DatabaseHandle;
  applier: ResultApplier;
  logger: Logger;
  now: () => Date;
  instanceId: string;
  /** Rows applied at once: 1 on SQLite (one connection), a few on MySQL. */
  concurrency: number;
}

/**
 * Drains 'received' inbox rows: the intake stores callbacks leased to this instance and wakes this right after their
 * commit; it takes its own rows (no claim round trip) and applies each in its own transaction through the result
 * applier, whose every update is conditional on the state it leaves, so a row applied twice (here and by another
 * instance that took over an expired lease, or the reconciler) changes nothing the second time. A timer takes over
 * rows whose lease ran out (FOR UPDATE SKIP LOCKED on MySQL, a compare-and-set on SQLite), so several instances share
 * the work and rows of an instance that died are applied by the others.
 */
export class InboxApplier implements BackgroundJob {
  readonly name = 'inbox-applier';
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: InboxApplierDeps) {}

  get instanceId(): string {
    return this.deps.instanceId;
  }

  /** Rows were just committed for this instance: apply them now (or right after the round under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain(false).finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) this.wake();
      else for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /** Resolves when no round is running (tests and shutdown). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.drain(true).finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) this.wake();
        else for (const w of this.idleWaiters.splice(0)) w();
      });
    }, SWEEP_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One round: (sweeping) take over expired leases, then apply this instance's rows until none are left. */
  private async drain(sweep: boolean): Promise<void> {
    const { database, logger, instanceId } = this.deps;
    // Rows that failed this round are not taken again in it (their lease was given back, or could not be).
    const failed = new Set<number>();
    try {
      if (sweep) {
        const now = this.deps.now();
        await inTransaction(database, (tx) => takeOverExpiredLeases(tx, instanceId, now, new Date(now.getTime() + INBOX_LEASE_MS), BATCH));
      }
      for (;;) {
        this.again = false;
        if (this.stopped) return;
        const rows = (await receivedRowsLeasedTo(database.fast, instanceId, BATCH)).filter((r) => !failed.has(r.callbackId));
        if (rows.length === 0) return;
        const attempts = await prefetchAttempts(database, rows);
        let next = 0;
        const worker = async () => {
          while (next < rows.length && !this.stopped) {
            const row = rows[next++]!;
            if (!(await this.applyOne(row, attempts))) failed.add(row.callbackId);
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.deps.concurrency, rows.length) }, worker));
      }
    } catch (err) {
      // The database is away or refused: the rows stay 'received' and leased; the timer tries again.
      logger.error({ event: 'payments.inbox.drain_failed', err: loggableError(err) }, 'inbox rows could not be applied now; will try again');
    }
  }

  private async applyOne(row: CallbackInboxRow, attempts: ReadonlyMap<string, AttemptWithTicket>): Promise<boolean> {
    try {
      await this.deps.applier.processInboxRow(row, attempts);
      return true;
    } catch (err) {
      this.deps.logger.error({ event: 'payments.callback.error', err: loggableError(err), callbackId: row.callbackId },
        'callback stored but not applied; it will be tried again');
      await releaseLease(this.deps.database.db, row.callbackId, new Date(this.deps.now().getTime() + RETRY_MS)).catch(() => undefined);
      return false;
    }
  }
}
