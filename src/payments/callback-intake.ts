import type { DatabaseHandle } from '../core/db/database.js';
import type { InboxOutcome } from '../core/db/schema.js';
import { withLockWait } from '../core/db/sqlite-waits.js';
import { inTransaction, loggableError } from '../core/db/transaction.js';
import { safeEqual } from '../core/http/basic-auth.js';
import type { Logger } from '../core/logger.js';
import { auditExists, insertAudit } from '../store/audit.repository.js';
import { findInboxRow, insertInboxRow, type ArrivalOutcome } from '../store/callback-inbox.repository.js';
import { CallbackSpool, type DrainReport, type SpooledCallback } from './callback-spool.js';
import type { ResultApplier } from './result-applier.js';

export interface CallbackIntakeDeps {
  database: DatabaseHandle;
  applier: ResultApplier;
  spool: CallbackSpool;
  /** The secret last segment of the callback URL (MPESA_CALLBACK_TOKEN). */
  callbackToken: string;
  /** MPESA_CALLBACK_ALLOWED_IPS; empty allows any address. */
  allowedIps: readonly string[];
  logger: Logger;
  now: () => Date;
}

export interface CallbackArrival {
  token: string;
  sourceIp: string | undefined;
  rawBody: string;
  /** Set when the body was over the size limit: its full length in bytes (rawBody holds its beginning). */
  oversizeBytes?: number;
}

export type ReceiveResult =
  | { callbackId: number; outcome: InboxOutcome }
  /** The inbox could not take it; it is in the spool file until the database is back. */
  | { callbackId: null; outcome: 'spooled'; spoolId: string };

/** Spooled callbacks of another database, seen by the last drain. */
export interface ForeignSpooled {
  count: number;
  /** Which databases (ids, or hashes of their DATABASE_URL). */
  owners: string[];
  path: string;
  at: Date;
}

/** How long the inbox insert waits for SQLite's write lock before the body goes to the spool (answers stay fast). */
const INBOX_LOCK_WAIT_MS = 20;

/** The audit action that marks an inbox row moved from the spool; its detail names the spool entry. */
const SPOOLED_ACTION = 'callback.spooled';

/**
 * Callback intake: what happens to a body that reaches the callback URL before it is acknowledged. The raw body is
 * stored first, with the verdict on its token and source address; with the database down it goes to the spool file
 * (docs/adr). Processing follows through the result applier; its errors are logged and leave the row 'received' for
 * the reconciler, so they never turn into an answer other than 200.
 */
export class CallbackIntake {
  private readonly allowedIps: Set<string>;
  private foreign: ForeignSpooled | undefined;

  constructor(private readonly deps: CallbackIntakeDeps) {
    this.allowedIps = new Set(deps.allowedIps.map(normalizeIp));
  }

  get spoolPath(): string {
    return this.deps.spool.path;
  }

  /** The last drain's callbacks that belong to another database (for the admin callbacks page), if it found any. */
  foreignSpooled(): ForeignSpooled | undefined {
    return this.foreign;
  }

  /**
   * Stores the raw body (committed before anything else happens), then processes it. Throws only when neither the
   * inbox nor the spool could keep it: the route must not acknowledge what it did not keep.
   */
  async receive(input: CallbackArrival): Promise<ReceiveResult> {
    const { database, spool, logger } = this.deps;
    const sourceIp = input.sourceIp ?? null;
    const receivedAt = this.deps.now();
    // The verdict needs nothing from the body, so it is stored with it: a crash can never leave an unauthenticated
    // body 'received' for later processing.
    const refusal = this.refusal(input.token, sourceIp);
    const outcome: ArrivalOutcome = refusal ? 'rejected' : input.oversizeBytes !== undefined ? 'invalid' : 'received';
    const detail = refusal ?? (input.oversizeBytes !== undefined
      ? `body of ${input.oversizeBytes} bytes is over the limit; only its first ${Buffer.byteLength(input.rawBody)} bytes were kept`
      : null);
    let callbackId: number;
    try {
      // Another process holding SQLite's write lock must not keep Safaricom waiting: the spool takes it instead.
      callbackId = await withLockWait(INBOX_LOCK_WAIT_MS, () =>
        insertInboxRow(database.db, { source: 'callback', sourceIp, body: input.rawBody, outcome, detail, now: receivedAt }));
    } catch (inboxErr) {
      const spoolId = CallbackSpool.newId();
      try {
        await spool.append({ spoolId, receivedAt: receivedAt.toISOString(), sourceIp, body: input.rawBody, outcome, detail });
      } catch (spoolErr) {
        logger.error({ event: 'payments.callback.spool_failed', err: loggableError(spoolErr), inboxErr: loggableError(inboxErr), spool: spool.path },
          'callback could be stored neither in the inbox nor in the spool file');
        throw inboxErr;
      }
      logger.error({ event: 'payments.callback.spooled', err: loggableError(inboxErr), spoolId, outcome, spool: spool.path },
        'the inbox could not store a callback; kept in the spool file until the database is back');
      return { callbackId: null, outcome: 'spooled', spoolId };
    }
    return { callbackId, outcome: await this.processNewRow(callbackId, outcome, detail, sourceIp) };
  }

  /**
   * Moves spooled callbacks into the inbox and processes them (the reconciler runs this first, so also soon after
   * start). Each entry is stored with an audit row naming its spoolId in one transaction, and an entry whose audit
   * row exists is skipped: a drain repeated after a crash adds no second row.
   */
  async drainSpool(): Promise<DrainReport> {
    const { spool, logger } = this.deps;
    const report = await spool.drain((entry) => this.storeSpooled(entry));
    // Another database's callbacks in our spool file: left for it, and said (once per change, not every drain).
    const foreign = report.foreign > 0 ? { count: report.foreign, owners: report.foreignOwners, path: spool.path, at: this.deps.now() } : undefined;
    if (foreign && (foreign.count !== this.foreign?.count || foreign.owners.join() !== this.foreign.owners.join())) {
      logger.warn({ event: 'payments.spool.foreign', foreign: foreign.count, owners: foreign.owners, spool: spool.path },
        'the callback spool holds callbacks that belong to another database; left there for an instance of that database');
    }
    this.foreign = foreign;
    if (report.moved > 0 || report.left > 0 || report.unreadable > 0) {
      logger[report.left > 0 || report.unreadable > 0 ? 'warn' : 'info'](
        { event: 'payments.spool.drained', ...report, spool: spool.path },
        report.left > 0 ? 'spooled callbacks moved into the inbox; some are still waiting for the database' : 'spooled callbacks moved into the inbox',
      );
    }
    return report;
  }

  /** Processes a row just stored; a processing error leaves it 'received' for the reconciler. */
  private async processNewRow(callbackId: number, outcome: ArrivalOutcome, detail: string | null, sourceIp: string | null): Promise<InboxOutcome> {
    const { database, applier, logger } = this.deps;
    if (outcome !== 'received') {
      logger.warn({ event: 'payments.callback', callbackId, outcome, detail, sourceIp }, `callback ${outcome}`);
      return outcome;
    }
    try {
      const row = await findInboxRow(database.db, callbackId);
      if (!row) throw new Error(`inbox row ${callbackId} vanished`);
      return await applier.processInboxRow(row);
    } catch (e) {
      logger.error({ event: 'payments.callback.error', err: loggableError(e), callbackId },
        'callback stored but not processed; the reconciler will process it');
      return 'received';
    }
  }

  private async storeSpooled(entry: SpooledCallback): Promise<void> {
    const now = this.deps.now();
    const marker = `spool ${entry.spoolId}`;
    const callbackId = await inTransaction(this.deps.database, async (tx) => {
      if (await auditExists(tx, SPOOLED_ACTION, marker)) return undefined;
      const id = await insertInboxRow(tx, {
        source: 'callback', sourceIp: entry.sourceIp, body: entry.body, outcome: entry.outcome, detail: entry.detail,
        now: new Date(entry.receivedAt),
      });
      await insertAudit(tx, { at: now, actor: 'spool', action: SPOOLED_ACTION, callbackId: id, detail: marker });
      return id;
    });
    if (callbackId !== undefined) await this.processNewRow(callbackId, entry.outcome, entry.detail, entry.sourceIp);
  }

  /** Why a callback is refused (wrong token, IP outside the allow list), or undefined. Compares in constant time. */
  private refusal(token: string, sourceIp: string | null): string | undefined {
    if (!safeEqual(token, this.deps.callbackToken)) return 'wrong token';
    if (this.allowedIps.size > 0 && (sourceIp === null || !this.allowedIps.has(normalizeIp(sourceIp)))) {
      return 'source IP is not in MPESA_CALLBACK_ALLOWED_IPS';
    }
    return undefined;
  }
}

/** '::ffff:196.201.214.200' (an IPv4 client on a dual-stack socket) is 196.201.214.200. */
function normalizeIp(ip: string): string {
  const t = ip.trim().toLowerCase();
  return t.startsWith('::ffff:') && t.includes('.') ? t.slice(7) : t;
}
