import { createHash } from 'node:crypto';
import type { DatabaseHandle } from '../core/db/database.js';
import { PeriodicJob, type BackgroundJob } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import { rowsToTrim, trimBody } from '../store/callback-inbox.repository.js';

const DAY_MS = 86_400_000;
const EVERY_MS = 3_600_000;
const BATCH = 200;
const MAX_BATCHES = 50;

/**
 * Inbox retention: once a day's worth of hours, the bodies of inbox rows older than INBOX_RETENTION_DAYS are emptied
 * (their size and sha256 kept, every other column kept), when their story is over: applied, duplicate, rejected or
 * invalid, and not about a ticket with a refund owed and not yet made. Rows 'received', 'unmatched', 'mismatch' or 'conflict'
 * are an open money question and are never trimmed; no row is ever deleted.
 */
export class InboxRetention implements BackgroundJob {
  readonly name = 'inbox-retention';
  private readonly job: PeriodicJob<number>;

  constructor(private readonly deps: { database: DatabaseHandle; logger: Logger; now: () => Date; retentionDays: number }) {
    this.job = new PeriodicJob({
      run: () => this.run(), timed: () => this.runOnce(), firstMs: 60_000, everyMs: () => EVERY_MS,
      logger: deps.logger, event: 'payments.inbox.retention_failed', failure: 'inbox retention run failed',
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass; returns how many bodies were trimmed. */
  runOnce(): Promise<number> {
    return this.job.runOnce();
  }

  private async run(): Promise<number> {
    const { database, logger } = this.deps;
    const before = new Date(this.deps.now().getTime() - this.deps.retentionDays * DAY_MS);
    let trimmed = 0;
    for (let b = 0; b < MAX_BATCHES; b++) {
      const rows = await rowsToTrim(database.db, before, BATCH);
      for (const r of rows) {
        // A rejected row holds only the start of its body: its size and hash are already those of what arrived.
        const whole = Buffer.from(r.body, 'utf8');
        const bodyBytes = r.bodySha256 ? (r.bodyBytes ?? whole.length) : whole.length;
        const bodySha256 = r.bodySha256 ?? createHash('sha256').update(whole).digest('hex');
        if (await trimBody(database.db, r.callbackId, r.outcome, { bodyBytes, bodySha256 })) trimmed++;
      }
      if (rows.length < BATCH) break;
    }
    if (trimmed > 0) logger.info({ event: 'payments.inbox.trimmed', trimmed, before: before.toISOString() }, 'old inbox bodies trimmed');
    return trimmed;
  }
}
