import type { Config } from '../core/config.js';
import type { DatabaseHandle } from '../core/db/database.js';
import type { CallbackInboxRow, InboxOutcome, Ticket } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { safeEqual } from '../core/http/basic-auth.js';
import type { Logger } from '../core/logger.js';
import type { DarajaClient, StkPushAccepted } from '../daraja/daraja.client.js';
import { DarajaError } from '../daraja/errors.js';
import { releaseTickets } from '../movies/movie.repository.js';
import { enqueueNotification } from '../notifications/notification.repository.js';
import { applyResult, InboxRowTaken, type Applied, type ResultTarget } from './apply-result.js';
import { CallbackSpool, defaultSpoolPath, type DrainReport, type SpooledCallback } from './callback-spool.js';
import {
  findInboxRow, findPushByCheckoutId, findTicket, findUnansweredPushes, finishInboxRow, insertAudit, insertInboxRow,
  insertPushRequest, markPushAccepted, markPushAnsweredWithError, markTicketFailed, storeCheckoutId, unmatchedRowsNowKnown,
} from './payment.repository.js';
import { plainPhone, queryInboxBody, readInboxBody, type PaymentResult } from './payment-result.js';
import { inTransaction, isDuplicateKey, loggableError } from '../core/db/transaction.js';

export type PushStartResult =
  | { kind: 'accepted'; checkoutRequestId: string }
  | { kind: 'refused'; reason: string; errorCode?: string }
  | { kind: 'unknown' };

export interface PaymentServiceDeps {
  database: DatabaseHandle;
  daraja: DarajaClient;
  config: Readonly<Config>;
  logger: Logger;
  now: () => Date;
  /** Where callbacks go when the inbox cannot take them; default beside the database (see defaultSpoolPath). */
  spoolPath?: string;
}

export type ReceiveResult =
  | { callbackId: number; outcome: InboxOutcome }
  /** The inbox could not take it; it is in the spool file until the database is back. */
  | { callbackId: null; outcome: 'spooled'; spoolId: string };

/** The audit action that marks an inbox row moved from the spool; its detail names the spool entry. */
const SPOOLED_ACTION = 'callback.spooled';

/** The failure reason of a Pending ticket nobody could settle within 10 × PAYMENT_TIMEOUT_SECONDS (contract §6). */
export const NO_ANSWER_REASON = 'No answer from M-Pesa';

/** A callback whose CheckoutRequestID we never learned is matched by phone and amount to an attempt this recent (contract §6). */
const MATCH_WINDOW_MS = 5 * 60_000;

/**
 * The payments core: sending STK pushes, taking callbacks into the inbox and applying them, and the pieces the
 * reconciler uses (query results, expiry, inbox recovery). Every ticket change goes through applyResult or the two
 * failure paths here, each one transaction with a conditional update.
 */
export class PaymentService {
  private readonly database: DatabaseHandle;
  private readonly daraja: DarajaClient;
  private readonly config: Readonly<Config>;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly allowedIps: Set<string>;
  readonly spool: CallbackSpool;

  constructor(deps: PaymentServiceDeps) {
    this.database = deps.database;
    this.daraja = deps.daraja;
    this.config = deps.config;
    this.logger = deps.logger;
    this.now = deps.now;
    this.allowedIps = new Set(deps.config.callbackAllowedIps.map(normalizeIp));
    this.spool = new CallbackSpool(deps.spoolPath ?? defaultSpoolPath(deps.config.databaseUrl));
  }

  // ── pushes ────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * For a Pending ticket that holds its tickets: records the attempt ('Sending') before sending, sends the STK push,
   * stores Daraja's ids as soon as it answers and then applies any callback that beat that answer. Refused → the
   * ticket is Failed with the error's customer message and its tickets released. Unknown (timeout, broken answer) →
   * the ticket stays Pending for the callback or the reconciler. Never throws for Daraja errors.
   */
  async startPush(ticketId: number): Promise<PushStartResult> {
    const db = this.database.db;
    const ticket = await findTicket(db, ticketId, false);
    if (!ticket) throw new NotFoundError('ticket');
    if (ticket.paymentStatus !== 'Pending' || ticket.holdsTickets !== 1) {
      throw new ConflictError('TICKET_NOT_PENDING', 'This ticket is not waiting for a payment.');
    }
    const pushRequestId = await insertPushRequest(db, {
      ticketId, phoneNumber: ticket.phoneNumber, amount: ticket.totalAmount, now: this.now(),
    });

    let accepted: StkPushAccepted;
    try {
      accepted = await this.daraja.stkPush({ phoneNumber: ticket.phoneNumber, amount: ticket.totalAmount });
    } catch (err) {
      return this.pushNotAccepted(ticket, pushRequestId, err);
    }

    const { checkoutRequestId } = accepted;
    try {
      await this.recordAccepted(pushRequestId, accepted);
      this.logger.info({ event: 'payments.push.accepted', ticketId, pushRequestId, checkoutRequestId }, 'STK push accepted');
    } catch (err) {
      // The push is out and may be paid: the callback still finds the attempt by phone and amount, and this line
      // keeps the id for an operator.
      this.logger.error({ event: 'payments.push.store_failed', err: loggableError(err), ticketId, pushRequestId, checkoutRequestId },
        'STK push accepted but its CheckoutRequestID could not be stored');
    }
    return { kind: 'accepted', checkoutRequestId };
  }

  private async recordAccepted(pushRequestId: number, accepted: StkPushAccepted): Promise<void> {
    const db = this.database.db;
    const { checkoutRequestId, merchantRequestId } = accepted;
    let stored = false;
    try {
      stored = await storeCheckoutId(db, pushRequestId, { checkoutRequestId, merchantRequestId });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      this.logger.error({ event: 'payments.push.id_taken', pushRequestId, checkoutRequestId },
        'Daraja answered with a CheckoutRequestID another attempt already carries; left for an operator');
    }
    if (!stored) {
      // A callback that beat this answer was matched by phone and amount and stored its id first.
      const current = await db.selectFrom('pushrequest').select('checkoutRequestId').where('pushRequestId', '=', pushRequestId).executeTakeFirst();
      if (current?.checkoutRequestId !== checkoutRequestId) {
        this.logger.warn({ event: 'payments.push.id_differs', pushRequestId, checkoutRequestId, matched: current?.checkoutRequestId },
          'the push answer names another CheckoutRequestID than the callback matched to this attempt');
      }
    }
    await markPushAccepted(db, pushRequestId, merchantRequestId, this.now());
    try {
      await this.applyUnmatched(checkoutRequestId);
    } catch (err) {
      // The id is stored, so the reconciler's next run applies the waiting callback instead.
      this.logger.error({ event: 'payments.push.unmatched_failed', err: loggableError(err), pushRequestId, checkoutRequestId },
        'could not apply a callback that beat the push answer; the reconciler will');
    }
  }

  private async pushNotAccepted(ticket: Ticket, pushRequestId: number, err: unknown): Promise<PushStartResult> {
    const now = this.now();
    const e = err instanceof DarajaError ? err : undefined;
    const log = { ticketId: ticket.ticketId, pushRequestId, code: e?.code, errorCode: e?.errorCode };
    if (e?.outcome === 'refused') {
      const reason = e.customerMessage;
      await inTransaction(this.database, async (tx) => {
        const locked = await findTicket(tx, ticket.ticketId, this.database.dialect === 'mysql');
        await markPushAnsweredWithError(tx, pushRequestId, 'Refused', {
          errorCode: e.errorCode ?? e.code, errorMessage: e.errorMessage ?? e.message, now,
        });
        if (locked?.paymentStatus !== 'Pending') return;
        if (locked.holdsTickets === 1) await releaseTickets(tx, locked.movieId, locked.quantity);
        await markTicketFailed(tx, locked.ticketId, { resultCode: null, failureReason: reason, now });
        await enqueueNotification(tx, { ticketId: locked.ticketId, kind: 'Failed', email: locked.email }, now);
      });
      this.logger.info({ event: 'payments.push.refused', ...log }, 'STK push refused: ticket Failed, tickets released');
      return { kind: 'refused', reason, ...(e.errorCode ?? e.code ? { errorCode: e.errorCode ?? e.code } : {}) };
    }
    // Unknown: the prompt may still reach the phone. Anything that is not a DarajaError is treated the same way,
    // because we cannot tell whether the request left.
    if (!e) this.logger.error({ event: 'payments.push.error', err: loggableError(err), ...log }, 'STK push failed unexpectedly; treated as unknown');
    await markPushAnsweredWithError(this.database.db, pushRequestId, 'Unknown', {
      errorCode: e?.errorCode ?? e?.code ?? 'UNEXPECTED', errorMessage: e?.message ?? String((err as Error)?.message ?? err), now,
    });
    this.logger.warn({ event: 'payments.push.unknown', ...log }, 'STK push answer unknown: ticket stays Pending');
    return { kind: 'unknown' };
  }

  // ── callbacks ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The callback route's whole job: stores the raw body first (committed before anything else happens), then checks
   * the token and the source IP, then processes. Processing errors are logged and leave the row 'received' for the
   * reconciler. When the inbox cannot take the body (database down), it goes to the spool file with its verdict and
   * the reconciler moves it in later; this throws only when the spool cannot take it either (the route must not
   * acknowledge what it did not keep).
   */
  async receiveCallback(input: {
    token: string;
    sourceIp: string | undefined;
    rawBody: string;
    /** Set when the body was over the size limit: its full length in bytes (rawBody holds its beginning). */
    oversizeBytes?: number;
  }): Promise<ReceiveResult> {
    const sourceIp = input.sourceIp ?? null;
    const receivedAt = this.now();
    // The verdict needs nothing from the body, so it is stored with it: a crash can never leave an unauthenticated
    // body 'received' for later processing.
    const refusal = this.refusal(input.token, sourceIp);
    const outcome = refusal ? 'rejected' : input.oversizeBytes !== undefined ? 'invalid' : 'received';
    const detail = refusal ?? (input.oversizeBytes !== undefined
      ? `body of ${input.oversizeBytes} bytes is over the limit; only its first ${Buffer.byteLength(input.rawBody)} bytes were kept`
      : null);
    let callbackId: number;
    try {
      callbackId = await insertInboxRow(this.database.db, {
        source: 'callback', sourceIp, body: input.rawBody, outcome, detail, now: receivedAt,
      });
    } catch (inboxErr) {
      const spoolId = CallbackSpool.newId();
      try {
        await this.spool.append({ spoolId, receivedAt: receivedAt.toISOString(), sourceIp, body: input.rawBody, outcome, detail });
      } catch (spoolErr) {
        this.logger.error({ event: 'payments.callback.spool_failed', err: loggableError(spoolErr), inboxErr: loggableError(inboxErr), spool: this.spool.path },
          'callback could be stored neither in the inbox nor in the spool file');
        throw inboxErr;
      }
      this.logger.error({ event: 'payments.callback.spooled', err: loggableError(inboxErr), spoolId, outcome, spool: this.spool.path },
        'the inbox could not store a callback; kept in the spool file until the database is back');
      return { callbackId: null, outcome: 'spooled', spoolId };
    }
    return { callbackId, outcome: await this.processNewRow(callbackId, outcome, detail, sourceIp) };
  }

  /** Processes a row just stored; a processing error leaves it 'received' for the reconciler. */
  private async processNewRow(callbackId: number, outcome: InboxOutcome, detail: string | null, sourceIp: string | null): Promise<InboxOutcome> {
    if (outcome !== 'received') {
      this.logger.warn({ event: 'payments.callback', callbackId, outcome, detail, sourceIp }, `callback ${outcome}`);
      return outcome;
    }
    try {
      const row = await findInboxRow(this.database.db, callbackId);
      if (!row) throw new Error(`inbox row ${callbackId} vanished`);
      return await this.processInboxRow(row);
    } catch (err) {
      this.logger.error({ event: 'payments.callback.error', err: loggableError(err), callbackId },
        'callback stored but not processed; the reconciler will process it');
      return 'received';
    }
  }

  /**
   * Moves spooled callbacks into the inbox and processes them (the reconciler runs this first, so also soon after
   * start). Each entry is stored with an audit row naming its spoolId in one transaction, and an entry whose audit
   * row exists is skipped: a drain repeated after a crash adds no second row.
   */
  async drainSpool(): Promise<DrainReport> {
    const report = await this.spool.drain((entry) => this.storeSpooled(entry));
    if (report.moved > 0 || report.left > 0 || report.unreadable > 0) {
      this.logger[report.left > 0 || report.unreadable > 0 ? 'warn' : 'info'](
        { event: 'payments.spool.drained', ...report, spool: this.spool.path },
        report.left > 0 ? 'spooled callbacks moved into the inbox; some are still waiting for the database' : 'spooled callbacks moved into the inbox',
      );
    }
    return report;
  }

  private async storeSpooled(entry: SpooledCallback): Promise<void> {
    const now = this.now();
    const marker = `spool ${entry.spoolId}`;
    const callbackId = await inTransaction(this.database, async (tx) => {
      const seen = await tx.selectFrom('auditlog').select('auditId')
        .where('action', '=', SPOOLED_ACTION).where('detail', '=', marker).executeTakeFirst();
      if (seen) return undefined;
      const id = await insertInboxRow(tx, {
        source: 'callback', sourceIp: entry.sourceIp, body: entry.body, outcome: entry.outcome, detail: entry.detail,
        now: new Date(entry.receivedAt),
      });
      await insertAudit(tx, { actor: 'spool', action: SPOOLED_ACTION, ticketId: null, callbackId: id, detail: marker, now });
      return id;
    });
    if (callbackId !== undefined) await this.processNewRow(callbackId, entry.outcome, entry.detail, entry.sourceIp);
  }

  /** Why a callback is refused (wrong token, IP outside the allow list), or undefined. Compares in constant time. */
  private refusal(token: string, sourceIp: string | null): string | undefined {
    const tokenOk = safeEqual(token, this.config.callbackToken);
    if (!tokenOk) return 'wrong token';
    if (this.allowedIps.size > 0 && (sourceIp === null || !this.allowedIps.has(normalizeIp(sourceIp)))) {
      return 'source IP is not in MPESA_CALLBACK_ALLOWED_IPS';
    }
    return undefined;
  }

  /**
   * Processes one inbox row that is 'received' (fresh, or left by a crash) or 'unmatched' (its attempt may be known
   * now). Returns the row's outcome afterwards, whoever set it.
   */
  async processInboxRow(row: CallbackInboxRow): Promise<InboxOutcome> {
    const db = this.database.db;
    const expected = row.outcome;
    const read = readInboxBody(row);
    if (!read.ok) {
      if (await finishInboxRow(db, row.callbackId, expected, { outcome: 'invalid', detail: read.error, now: this.now() })) {
        this.logger.warn({ event: 'payments.callback', callbackId: row.callbackId, outcome: 'invalid', detail: read.error }, 'callback invalid');
        return 'invalid';
      }
      return this.currentOutcome(row.callbackId);
    }
    const { checkoutRequestId, result } = read;
    const found = await this.findTarget(checkoutRequestId, result, fromDbTime(row.receivedAt));
    if ('unmatched' in found) {
      if (expected !== 'unmatched' &&
        !(await finishInboxRow(db, row.callbackId, expected, { outcome: 'unmatched', detail: found.unmatched, checkoutRequestId, now: this.now() }))) {
        return this.currentOutcome(row.callbackId);
      }
      if (expected !== 'unmatched') {
        this.logger.warn({ event: 'payments.callback', callbackId: row.callbackId, outcome: 'unmatched', checkoutRequestId, detail: found.unmatched }, 'callback unmatched');
      }
      return 'unmatched';
    }
    return this.apply(row.callbackId, expected, checkoutRequestId, found.target, result, row.source);
  }

  private async apply(
    callbackId: number, expected: InboxOutcome, checkoutRequestId: string, target: ResultTarget, result: PaymentResult,
    source: string,
  ): Promise<InboxOutcome> {
    let applied: Applied;
    try {
      applied = await applyResult(this.database, this.now(), { callbackId, expected, checkoutRequestId, target, result });
    } catch (err) {
      if (err instanceof InboxRowTaken) return this.currentOutcome(callbackId);
      throw err;
    }
    const level = applied.outcome === 'mismatch' || applied.outcome === 'unmatched' ? 'warn' : 'info';
    this.logger[level]({
      event: 'payments.callback', source, callbackId, checkoutRequestId, outcome: applied.outcome, ticketId: applied.ticketId,
      ticketChange: applied.ticketChange, detail: applied.detail,
    }, `${source} ${applied.outcome}`);
    return applied.outcome;
  }

  /**
   * The attempt a result belongs to: by CheckoutRequestID; else, for a success, the only unanswered attempt with its
   * phone and amount from the last 5 minutes (the push's answer never came or has not come yet).
   */
  private async findTarget(checkoutRequestId: string, result: PaymentResult, receivedAt: Date): Promise<{ target: ResultTarget } | { unmatched: string }> {
    const db = this.database.db;
    const known = await findPushByCheckoutId(db, checkoutRequestId);
    if (known) return { target: { kind: 'known', pushRequestId: known.pushRequestId } };
    const phone = result.kind === 'paid' && result.phone !== undefined ? plainPhone(result.phone) : undefined;
    if (result.kind !== 'paid' || phone === undefined || result.amount === undefined) {
      return { unmatched: 'no push attempt has this CheckoutRequestID' };
    }
    const candidates = await findUnansweredPushes(db, phone, result.amount, new Date(receivedAt.getTime() - MATCH_WINDOW_MS));
    if (candidates.length === 1) return { target: { kind: 'matched', pushRequestId: candidates[0]!.pushRequestId } };
    // A concurrent copy of this callback may have matched and stored the id between our two reads.
    const now = await findPushByCheckoutId(db, checkoutRequestId);
    if (now) return { target: { kind: 'known', pushRequestId: now.pushRequestId } };
    return {
      unmatched: candidates.length === 0
        ? 'no push attempt has this CheckoutRequestID, and none in flight has its phone and amount'
        : 'several attempts in flight have its phone and amount: an operator must choose',
    };
  }

  /** Applies the 'unmatched' rows waiting for this CheckoutRequestID (a callback that beat the push's answer). */
  async applyUnmatched(checkoutRequestId: string): Promise<number> {
    const rows = await unmatchedRowsNowKnown(this.database.db, 20, checkoutRequestId);
    let n = 0;
    for (const row of rows) {
      if ((await this.processInboxRow(row)) !== 'unmatched') n++;
    }
    return n;
  }

  /** An operator assigns an 'unmatched' inbox row to a ticket: applied as a callback would be, with an audit row. */
  async assignCallback(callbackId: number, ticketId: number, actor: string): Promise<InboxOutcome> {
    const db = this.database.db;
    const row = await findInboxRow(db, callbackId);
    if (!row) throw new NotFoundError('callback');
    if (row.outcome !== 'unmatched') {
      throw new ConflictError('CALLBACK_NOT_UNMATCHED', `This callback is already ${row.outcome}; only unmatched callbacks can be assigned.`);
    }
    if (!(await findTicket(db, ticketId, false))) throw new NotFoundError('ticket');
    const read = readInboxBody(row);
    if (!read.ok) throw new ConflictError('CALLBACK_INVALID', 'This callback cannot be read, so it cannot be assigned.');
    const outcome = await this.apply(callbackId, 'unmatched', read.checkoutRequestId, { kind: 'operator', ticketId, actor }, read.result, 'operator');
    return outcome;
  }

  private async currentOutcome(callbackId: number): Promise<InboxOutcome> {
    return (await findInboxRow(this.database.db, callbackId))?.outcome ?? 'received';
  }

  // ── for the reconciler ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Records a final STK Query answer as an inbox row (source 'query', the answer as its body) and applies it as a
   * callback would be. A payment confirmed this way has no receipt number and is dated now.
   */
  async recordQueryResult(
    ticketId: number,
    checkoutRequestId: string,
    answer: { resultCode: string; resultDesc: string },
  ): Promise<InboxOutcome> {
    const callbackId = await insertInboxRow(this.database.db, {
      source: 'query', sourceIp: null, body: queryInboxBody(checkoutRequestId, answer), outcome: 'received', detail: null,
      checkoutRequestId, ticketId, now: this.now(),
    });
    const row = await findInboxRow(this.database.db, callbackId);
    if (!row) throw new Error(`inbox row ${callbackId} vanished`);
    return this.processInboxRow(row);
  }

  /** Pending for 10 × the timeout with no answer: Failed "No answer from M-Pesa", tickets released. False if settled meanwhile. */
  async expire(ticketId: number): Promise<boolean> {
    const now = this.now();
    const done = await inTransaction(this.database, async (tx) => {
      const ticket = await findTicket(tx, ticketId, this.database.dialect === 'mysql');
      if (ticket?.paymentStatus !== 'Pending') return false;
      if (ticket.holdsTickets === 1) await releaseTickets(tx, ticket.movieId, ticket.quantity);
      await markTicketFailed(tx, ticketId, { resultCode: null, failureReason: NO_ANSWER_REASON, now });
      await enqueueNotification(tx, { ticketId, kind: 'Failed', email: ticket.email }, now);
      return true;
    });
    if (done) this.logger.info({ event: 'payments.expired', ticketId }, 'no answer from M-Pesa in time: ticket Failed, tickets released');
    return done;
  }
}

/** '::ffff:196.201.214.200' (an IPv4 client on a dual-stack socket) is 196.201.214.200. */
function normalizeIp(ip: string): string {
  const t = ip.trim().toLowerCase();
  return t.startsWith('::ffff:') && t.includes('.') ? t.slice(7) : t;
}
