import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { DatabaseHandle } from '../core/db/database.js';
import { inTransaction, loggableError } from '../core/db/transaction.js';
import type { BackgroundJob } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import { inboxRowsById, receivedIdsLeasedTo, releaseLease, takeOverExpiredLeases } from '../store/callback-inbox.repository.js';
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
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set by wake(): rows may be waiting that no read has seen yet. */
  private again = false;
  private fetching: Promise<void> | undefined;
  /** Rows read and waiting for a free worker, with the attempts their batch read. */
  private queue: Array<{ row: CallbackInboxRow; attempts: ReadonlyMap<string, AttemptWithTicket> }> = [];
  /** Rows queued or being applied, so a read while they are in hand does not take them twice. */
  private readonly taken = new Set<number>();
  /** Rows whose applying failed: not taken again before the next sweep (their lease was given back, or could not be). */
  private readonly failed = new Set<number>();
  private active = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: InboxApplierDeps) {}

  get instanceId(): string {
    return this.deps.instanceId;
  }

  /** Rows were just committed for this instance: read them now, or as soon as the read under way is done. */
  wake(): void {
    if (this.stopped) return;
    this.again = true;
    this.fetch(false);
  }

  /** Rows read and waiting or being applied, plus one for a read under way: how far behind the applier is. */
  backlog(): number {
    return this.queue.length + this.active + (this.fetching ? 1 : 0);
  }

  /** Resolves when nothing is being read, waiting or being applied (tests and shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.failed.clear();
      this.again = true;
      this.fetch(true);
    }, SWEEP_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Rows not started keep their lease, which runs out; the next instance (or this one restarted) applies them.
    for (const job of this.queue.splice(0)) this.taken.delete(job.row.callbackId);
    await this.idle();
  }

  private isIdle(): boolean {
    return this.active === 0 && this.queue.length === 0 && this.fetching === undefined;
  }

  private settle(): void {
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** One read at a time; workers start on each row as soon as it is read (no round waits for its slowest row). */
  private fetch(sweep: boolean): void {
    if (this.fetching || this.stopped) return;
    this.fetching = this.read(sweep).finally(() => {
      this.fetching = undefined;
      if (this.again && !this.stopped && this.queue.length < BATCH) this.fetch(false);
      else this.settle();
    });
  }

  /** (Sweeping: take over expired leases first.) Reads this instance's rows and queues them for the workers. */
  private async read(sweep: boolean): Promise<void> {
    const { database, logger, instanceId } = this.deps;
    try {
      if (sweep) {
        const now = this.deps.now();
        await inTransaction(database, (tx) => takeOverExpiredLeases(tx, instanceId, now, new Date(now.getTime() + INBOX_LEASE_MS), BATCH));
      }
      while (this.again && !this.stopped && this.queue.length < BATCH) {
        this.again = false;
        const ids = (await receivedIdsLeasedTo(database.fast, instanceId, BATCH + this.taken.size + this.failed.size))
          .filter((id) => !this.taken.has(id) && !this.failed.has(id)).slice(0, BATCH);
        if (ids.length === 0) return;
        // Still 'received' when read, or already applied by another: applying checks again (conditional updates).
        const fresh = (await inboxRowsById(database.fast, ids)).filter((r) => r.outcome === 'received' && !this.taken.has(r.callbackId));
        if (fresh.length === 0) continue;
        const attempts = await prefetchAttempts(database, fresh);
        for (const row of fresh) {
          this.taken.add(row.callbackId);
          this.queue.push({ row, attempts });
        }
        // A full batch means more may be waiting behind it.
        if (ids.length >= BATCH) this.again = true;
        this.dispatch();
      }
    } catch (err) {
      // The database is away or refused: the rows stay 'received' and leased; the timer tries again.
      logger.error({ event: 'payments.inbox.drain_failed', err: loggableError(err) }, 'inbox rows could not be applied now; will try again');
    }
  }

  private dispatch(): void {
    while (this.active < this.deps.concurrency && this.queue.length > 0 && !this.stopped) {
      const { row, attempts } = this.queue.shift()!;
      this.active++;
      void this.applyOne(row, attempts).then((ok) => {
        if (!ok) this.failed.add(row.callbackId);
      }).finally(() => {
        this.active--;
        this.taken.delete(row.callbackId);
        this.dispatch();
        // Read again only when the workers are about to run dry: fewer, fuller reads.
        if (this.again && this.queue.length < this.deps.concurrency) this.fetch(false);
        this.settle();
      });
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
