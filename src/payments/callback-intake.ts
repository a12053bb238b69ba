import type { DatabaseHandle } from '../core/db/database.js';
import { isDatabaseUnreachable } from '../core/db/errors.js';
import { inTransaction, isLockConflict, loggableError } from '../core/db/transaction.js';
import { safeEqual } from '../core/http/basic-auth.js';
import type { Logger } from '../core/logger.js';
import { auditExists, insertAudit } from '../store/audit.repository.js';
import { insertInboxArrivals, insertInboxRow, type ArrivalOutcome, type InboxArrival } from '../store/callback-inbox.repository.js';
import { CallbackSpool, type DrainReport, type SpooledCallback } from './callback-spool.js';
import { GroupCommit } from './group-commit.js';
import { INBOX_LEASE_MS, type InboxApplier } from './inbox-applier.js';
import { boundedBody, RejectedBudget } from './rejected-budget.js';

export interface CallbackIntakeDeps {
  database: DatabaseHandle;
  /** Applies what the intake stored: woken right after each commit. */
  inboxApplier: InboxApplier;
  spool: CallbackSpool;
  /** The secret last segment of the callback URL (MPESA_CALLBACK_TOKEN). */
  callbackToken: string;
  /** MPESA_CALLBACK_ALLOWED_IPS; empty allows any address. */
  allowedIps: readonly string[];
  logger: Logger;
  now: () => Date;
  /** REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR. */
  rejectedPerSourcePerHour: number;
  /**
   * The answer waits for the row to be applied only while the applier has at most this many rows in hand (it is
   * keeping up); above it the answer goes as soon as the row is committed. 0 always answers at once.
   */
  answerAfterAppliedBacklog: number;
}

export interface CallbackArrival {
  token: string;
  sourceIp: string | undefined;
  rawBody: string;
  /** Set when the body was over the size limit: its full length in bytes (rawBody holds its beginning). */
  oversizeBytes?: number;
}

export type ReceiveResult =
  /** Committed to the inbox with this verdict ('received' rows are applied right after, by the inbox applier). */
  | { outcome: ArrivalOutcome }
  /** The inbox could not take it; it is in the spool file until the database is back. */
  | { outcome: 'spooled'; spoolId: string }
  /** Rejected past its source's hourly budget: counted, not stored (still answered 200). */
  | { outcome: 'counted' };

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

/** Callbacks stored per multi-row INSERT at most. */
const MAX_BATCH = 64;

/**
 * While the applier keeps up, a callback's answer waits (at most this long) for the applier to finish, so the ticket
 * has turned Paid or Failed by the time Safaricom (or a test, or a client polling just after) gets its 200. Under a
 * burst the applier is behind and the answer goes at once: the body is already durable, which is all the 200 promises.
 */
const ANSWER_AFTER_APPLIED_MS = 1_000;

/**
 * Callback intake: what happens to a body that reaches the callback URL before it is acknowledged, and nothing more.
 * The raw body is stored with the verdict on its token and source address; callbacks arriving together share one
 * multi-row INSERT and one commit (group commit, group-commit.ts), and each is acknowledged only once the write
 * holding it has committed. With the database away they go to the spool file instead. Applying them is the inbox
 * applier's job (inbox-applier.ts), woken right after each commit: its errors never reach the answer.
 * See docs/adr/0016-group-commit-intake.md.
 */
export class CallbackIntake {
  private readonly allowedIps: Set<string>;
  private readonly batches: GroupCommit<InboxArrival>;
  readonly rejected: RejectedBudget;
  private foreign: ForeignSpooled | undefined;
  /** For each stored arrival the applier was keeping up with: resolved once the read after its commit is applied. */
  private readonly applied = new WeakMap<InboxArrival, Promise<void>>();

  constructor(private readonly deps: CallbackIntakeDeps) {
    this.allowedIps = allowList(deps.allowedIps);
    this.rejected = new RejectedBudget(deps.rejectedPerSourcePerHour, deps.logger, deps.now);
    this.batches = new GroupCommit((rows) => this.write(rows), {
      maxBatch: MAX_BATCH,
      // SQLite has one connection; MySQL's pool lets a few commits overlap.
      maxInFlight: deps.database.dialect === 'sqlite' ? 1 : 4,
    });
  }

  get spoolPath(): string {
    return this.deps.spool.path;
  }

  /** The last drain's callbacks that belong to another database (for the admin callbacks page), if it found any. */
  foreignSpooled(): ForeignSpooled | undefined {
    return this.foreign;
  }

  /**
   * Stores the raw body (committed, possibly with others arriving at the same moment, before this resolves). Throws
   * only when neither the inbox nor the spool could keep it: the route must not acknowledge what it did not keep.
   */
  async receive(input: CallbackArrival): Promise<ReceiveResult> {
    const { spool, logger } = this.deps;
    const sourceIp = input.sourceIp ?? null;
    const receivedAt = this.deps.now();
    // The verdict needs nothing from the body, so it is stored with it: a crash can never leave an unauthenticated
    // body 'received' for later processing.
    const refusal = this.refusal(input.token, sourceIp);
    const outcome: ArrivalOutcome = refusal ? 'rejected' : input.oversizeBytes !== undefined ? 'invalid' : 'received';
    const detail = refusal ?? (input.oversizeBytes !== undefined
      ? `body of ${input.oversizeBytes} bytes is over the limit; only its first ${Buffer.byteLength(input.rawBody)} bytes were kept`
      : null);
    let arrival: InboxArrival = { receivedAt, sourceIp, body: input.rawBody, outcome, detail, bodyBytes: null, bodySha256: null };
    if (refusal) {
      // Bounded: the start of the body with the size and hash of the whole, and past the source's budget nothing.
      if (!this.rejected.admit(sourceIp)) return { outcome: 'counted' };
      arrival = { ...arrival, ...boundedBody(input.rawBody, input.oversizeBytes) };
    }
    try {
      await this.batches.add(arrival);
    } catch (inboxErr) {
      const spoolId = CallbackSpool.newId();
      try {
        // A rejected body goes to the spool bounded too (its start only).
        await spool.append({ spoolId, receivedAt: receivedAt.toISOString(), sourceIp, body: arrival.body, outcome, detail });
      } catch (spoolErr) {
        logger.error({ event: 'payments.callback.spool_failed', err: loggableError(spoolErr), inboxErr: loggableError(inboxErr), spool: spool.path },
          'callback could be stored neither in the inbox nor in the spool file');
        throw inboxErr;
      }
      logger.error({ event: 'payments.callback.spooled', err: loggableError(inboxErr), spoolId, outcome, spool: spool.path },
        'the inbox could not store a callback; kept in the spool file until the database is back');
      return { outcome: 'spooled', spoolId };
    }
    if (outcome !== 'received') logger.warn({ event: 'payments.callback', outcome, detail, sourceIp }, `callback ${outcome}`);
    else await this.appliedSoon(this.applied.get(arrival));
    return { outcome };
  }

  /**
   * Waits for the applier's read that follows this row's commit to be applied (so the row is, usually in a few
   * milliseconds), at most ANSWER_AFTER_APPLIED_MS; `applied` is undefined when the applier was behind as the row was
   * committed (a burst: answer at once). Never throws: applying is not the answer's business.
   */
  private async appliedSoon(applied: Promise<void> | undefined): Promise<void> {
    if (applied === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      applied,
      new Promise<void>((resolve) => { timer = setTimeout(resolve, ANSWER_AFTER_APPLIED_MS); }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Resolves when no callback is waiting for its commit (tests, shutdown). */
  settled(): Promise<void> {
    return this.batches.idle();
  }

  /**
   * One group commit: every row in one INSERT. If that fails for another reason than the database being away (a row
   * it refused), each row is tried alone, so one bad row costs the others nothing; only the rows that still fail
   * reject (and go to the spool). The applier is woken once the rows are committed.
   */
  private async write(rows: InboxArrival[]): Promise<void | unknown[]> {
    const { database, inboxApplier } = this.deps;
    const lease = () => ({ instance: inboxApplier.instanceId, until: new Date(this.deps.now().getTime() + INBOX_LEASE_MS) });
    try {
      // Another process holding SQLite's write lock must not keep Safaricom waiting: the spool takes them instead.
      await insertInboxArrivals(database.fast, rows, lease(), { lockWaitMs: INBOX_LOCK_WAIT_MS });
    } catch (err) {
      if (rows.length === 1 || isDatabaseUnreachable(err) || isLockConflict(err)) throw err;
      const errors: unknown[] = [];
      for (const row of rows) errors.push(await insertInboxArrivals(database.fast, [row], lease(), { lockWaitMs: INBOX_LOCK_WAIT_MS }).then(() => undefined, (e: unknown) => e ?? new Error(String(e))));
      return errors;
    } finally {
      const received = rows.filter((r) => r.outcome === 'received');
      if (received.length > 0) {
        // Registered before wake(), so the read it starts (which sees these committed rows) is the one waited for.
        if (inboxApplier.backlog() + received.length <= this.deps.answerAfterAppliedBacklog) {
          const applied = inboxApplier.nextReadApplied();
          for (const r of received) this.applied.set(r, applied);
        }
        inboxApplier.wake();
      }
    }
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
    // The moved rows are leased to this instance and the applier was woken for them: done once they are applied.
    if (report.moved > 0) await this.deps.inboxApplier.idle();
    if (report.moved > 0 || report.left > 0 || report.unreadable > 0) {
      logger[report.left > 0 || report.unreadable > 0 ? 'warn' : 'info'](
        { event: 'payments.spool.drained', ...report, spool: spool.path },
        report.left > 0 ? 'spooled callbacks moved into the inbox; some are still waiting for the database' : 'spooled callbacks moved into the inbox',
      );
    }
    return report;
  }

  private async storeSpooled(entry: SpooledCallback): Promise<void> {
    const now = this.deps.now();
    const marker = `spool ${entry.spoolId}`;
    const callbackId = await inTransaction(this.deps.database, async (tx) => {
      if (await auditExists(tx, SPOOLED_ACTION, marker)) return undefined;
      const id = await insertInboxRow(tx, {
        source: 'callback', sourceIp: entry.sourceIp, body: entry.body, outcome: entry.outcome, detail: entry.detail,
        now: new Date(entry.receivedAt),
        lease: { instance: this.deps.inboxApplier.instanceId, until: new Date(now.getTime() + INBOX_LEASE_MS) },
      });
      await insertAudit(tx, { at: now, actor: 'spool', action: SPOOLED_ACTION, callbackId: id, detail: marker });
      return id;
    });
    if (callbackId !== undefined) {
      if (entry.outcome === 'received') this.deps.inboxApplier.wake();
      else this.deps.logger.warn({ event: 'payments.callback', callbackId, outcome: entry.outcome, detail: entry.detail, sourceIp: entry.sourceIp }, `callback ${entry.outcome}`);
    }
  }

  private refusal(token: string, sourceIp: string | null): string | undefined {
    return callbackRefusal(this.deps.callbackToken, this.allowedIps, token, sourceIp);
  }
}

/** MPESA_CALLBACK_ALLOWED_IPS as compared by callbackRefusal. */
export function allowList(ips: readonly string[]): Set<string> {
  return new Set(ips.map(normalizeIp));
}

/**
 * Why a body posted under the callback's secret path segment (the callback, and the reversal's ResultURL and
 * QueueTimeOutURL) is refused: a wrong token, or a source outside the allow list; undefined when it is accepted.
 * Compares the token in constant time.
 */
export function callbackRefusal(expectedToken: string, allowed: ReadonlySet<string>, token: string, sourceIp: string | null): string | undefined {
  if (!safeEqual(token, expectedToken)) return 'wrong token';
  if (allowed.size > 0 && (sourceIp === null || !allowed.has(normalizeIp(sourceIp)))) {
    return 'source IP is not in MPESA_CALLBACK_ALLOWED_IPS';
  }
  return undefined;
}

/** '::ffff:196.201.214.200' (an IPv4 client on a dual-stack socket) is 196.201.214.200. */
function normalizeIp(ip: string): string {
  const t = ip.trim().toLowerCase();
  return t.startsWith('::ffff:') && t.includes('.') ? t.slice(7) : t;
}
