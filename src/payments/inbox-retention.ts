import { createHash } from 'node:crypto';
import type { DatabaseHandle } from '../core/db/database.js';
import { loggableError } from '../core/db/transaction.js';
import type { BackgroundJob } from '../core/jobs.js';
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
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<number> | undefined;

  constructor(private readonly deps: { database: DatabaseHandle; logger: Logger; now: () => Date; retentionDays: number }) {}

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.runOnce().catch((err: unknown) =>
        this.deps.logger.error({ event: 'payments.inbox.retention_failed', err: loggableError(err) }, 'inbox retention run failed'));
    };
    this.timer = setInterval(tick, EVERY_MS);
    this.timer.unref();
    setTimeout(tick, 60_000).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.current?.catch(() => undefined);
  }

  /** One pass; returns how many bodies were trimmed. */
  runOnce(): Promise<number> {
    this.current ??= this.run().finally(() => {
      this.current = undefined;
    });
    return this.current;
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
