import type { DatabaseHandle } from '../core/db/database.js';
import type { CallbackInboxRow, InboxOutcome } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { inTransaction } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import { err, ok, type Result } from '../core/result.js';
import {
  findInboxRow, finishInboxRow, insertInboxRow, unmatchedRowsNowKnown,
} from '../store/callback-inbox.repository.js';
import { findPushByCheckoutId, findUnansweredPushes, type AttemptWithTicket } from '../store/push-request.repository.js';
import { findTicket, lockTicket } from '../store/ticket.repository.js';
import { applyResult, failPending, InboxRowTaken, type Applied, type ResultTarget } from './apply-result.js';
import { applyFresh } from './fast-apply.js';
import { plainPhone, queryInboxBody, readInboxBody, type PaymentResult } from './payment-result.js';

/** The failure reason of a Pending ticket nobody could settle within 10 × PAYMENT_TIMEOUT_SECONDS. */
export const NO_ANSWER_REASON = 'No answer from M-Pesa';

/** A callback whose CheckoutRequestID we never learned is matched by phone and amount to an attempt this recent. */
const MATCH_WINDOW_MS = 5 * 60_000;

/** Why an operator's assignment of a callback to a ticket was not made. */
export type AssignRefusal =
  | { kind: 'callback_not_found' }
  | { kind: 'ticket_not_found' }
  | { kind: 'not_unmatched'; outcome: InboxOutcome }
  | { kind: 'unreadable' };

export interface ResultApplierDeps {
  database: DatabaseHandle;
  logger: Logger;
  now: () => Date;
}

/**
 * Applying results: turns an inbox row (a callback, an STK Query answer, an operator's assignment) into the one
 * transaction of apply-result.ts, after finding the push attempt it belongs to, and fails tickets nobody settled in
 * time. Every change to a ticket's payment state outside booking and retry goes through here.
 */
export class ResultApplier {
  constructor(private readonly deps: ResultApplierDeps) {}

  /**
   * Processes one inbox row that is 'received' (fresh, or left by a crash) or 'unmatched' (its attempt may be known
   * now). Returns the row's outcome afterwards, whoever set it.
   */
  async processInboxRow(row: CallbackInboxRow, prefetched?: ReadonlyMap<string, AttemptWithTicket>): Promise<InboxOutcome> {
    const { database, logger, now } = this.deps;
    const expected = row.outcome;
    const read = readInboxBody(row);
    if (!read.ok) {
      if (await finishInboxRow(database.db, row.callbackId, expected, { outcome: 'invalid', detail: read.error, now: now() })) {
        logger.warn({ event: 'payments.callback', callbackId: row.callbackId, outcome: 'invalid', detail: read.error }, 'callback invalid');
        return 'invalid';
      }
      return this.currentOutcome(row.callbackId);
    }
    const { checkoutRequestId, result } = read.value;
    // The common cases first, in one transaction of prepared statements (fast-apply.ts); anything else below.
    const fast = await applyFresh(database, now(), row, checkoutRequestId, result, prefetched);
    if (fast === 'taken') return this.currentOutcome(row.callbackId);
    if (fast !== 'general') {
      this.logApplied(row.source, row.callbackId, checkoutRequestId, fast);
      return fast.outcome;
    }
    const found = await this.findTarget(checkoutRequestId, result, fromDbTime(row.receivedAt));
    if (!found.ok) {
      if (expected === 'unmatched') return 'unmatched';
      if (!(await finishInboxRow(database.db, row.callbackId, expected, { outcome: 'unmatched', detail: found.error, checkoutRequestId, now: now() }))) {
        return this.currentOutcome(row.callbackId);
      }
      logger.warn({ event: 'payments.callback', callbackId: row.callbackId, outcome: 'unmatched', checkoutRequestId, detail: found.error }, 'callback unmatched');
      return 'unmatched';
    }
    return this.apply(row.callbackId, expected, checkoutRequestId, found.value, result, row.source);
  }

  /** Applies the 'unmatched' rows waiting for this CheckoutRequestID (a callback that beat the push's answer). */
  async applyUnmatched(checkoutRequestId: string): Promise<number> {
    const rows = await unmatchedRowsNowKnown(this.deps.database.db, 20, checkoutRequestId);
    let n = 0;
    for (const row of rows) {
      if ((await this.processInboxRow(row)) !== 'unmatched') n++;
    }
    return n;
  }

  /** An operator assigns an 'unmatched' inbox row to a ticket: applied as a callback would be, with an audit row. */
  async assignCallback(callbackId: number, ticketId: number, actor: string): Promise<Result<InboxOutcome, AssignRefusal>> {
    const db = this.deps.database.db;
    const row = await findInboxRow(db, callbackId);
    if (!row) return err({ kind: 'callback_not_found' });
    if (row.outcome !== 'unmatched') return err({ kind: 'not_unmatched', outcome: row.outcome });
    if (!(await findTicket(db, ticketId))) return err({ kind: 'ticket_not_found' });
    const read = readInboxBody(row);
    if (!read.ok) return err({ kind: 'unreadable' });
    const { checkoutRequestId, result } = read.value;
    return ok(await this.apply(callbackId, 'unmatched', checkoutRequestId, { kind: 'operator', ticketId, actor }, result, 'operator'));
  }

  /**
   * Records a final STK Query answer as an inbox row (source 'query', the answer as its body) and applies it as a
   * callback would be. A payment confirmed this way has no receipt number and is dated now.
   */
  async recordQueryResult(
    ticketId: number,
    checkoutRequestId: string,
    answer: { resultCode: string; resultDesc: string },
  ): Promise<InboxOutcome> {
    const db = this.deps.database.db;
    const callbackId = await insertInboxRow(db, {
      source: 'query', sourceIp: null, body: queryInboxBody(checkoutRequestId, answer), outcome: 'received', detail: null,
      checkoutRequestId, ticketId, now: this.deps.now(),
    });
    const row = await findInboxRow(db, callbackId);
    if (!row) throw new Error(`inbox row ${callbackId} vanished`);
    return this.processInboxRow(row);
  }

  /** Pending for 10 × the timeout with no answer: Failed "No answer from M-Pesa", seats released. False if settled meanwhile. */
  async expire(ticketId: number): Promise<boolean> {
    const now = this.deps.now();
    const done = await inTransaction(this.deps.database, async (tx) => {
      const ticket = await lockTicket(tx, ticketId);
      return ticket !== undefined && failPending(tx, ticket, { resultCode: null, failureReason: NO_ANSWER_REASON, now });
    });
    if (done) this.deps.logger.info({ event: 'payments.expired', ticketId }, 'no answer from M-Pesa in time: ticket Failed, tickets released');
    return done;
  }

  private async apply(
    callbackId: number, expected: InboxOutcome, checkoutRequestId: string, target: ResultTarget, result: PaymentResult,
    source: string,
  ): Promise<InboxOutcome> {
    let applied: Applied;
    try {
      applied = await applyResult(this.deps.database, this.deps.now(), { callbackId, expected, checkoutRequestId, target, result });
    } catch (e) {
      if (e instanceof InboxRowTaken) return this.currentOutcome(callbackId);
      throw e;
    }
    this.logApplied(source, callbackId, checkoutRequestId, applied);
    return applied.outcome;
  }

  /** The one log line of an applied callback (or query answer, or operator's assignment). */
  private logApplied(source: string, callbackId: number, checkoutRequestId: string, applied: Applied): void {
    const level = applied.outcome === 'mismatch' || applied.outcome === 'unmatched' || applied.outcome === 'conflict' ? 'warn' : 'info';
    this.deps.logger[level]({
      event: 'payments.callback', source, callbackId, checkoutRequestId, outcome: applied.outcome, ticketId: applied.ticketId,
      ticketChange: applied.ticketChange, detail: applied.detail,
    }, `${source} ${applied.outcome}`);
  }

  /**
   * The attempt a result belongs to: by CheckoutRequestID; else, for a success, the only unanswered attempt with its
   * phone and amount from the last 5 minutes (the push's answer never came or has not come yet). The error says why
   * none was found.
   */
  private async findTarget(checkoutRequestId: string, result: PaymentResult, receivedAt: Date): Promise<Result<ResultTarget, string>> {
    const db = this.deps.database.db;
    const known = await findPushByCheckoutId(db, checkoutRequestId);
    if (known) return ok({ kind: 'known', pushRequestId: known.pushRequestId });
    const phone = result.kind === 'paid' && result.phone !== undefined ? plainPhone(result.phone) : undefined;
    if (result.kind !== 'paid' || phone === undefined || result.amount === undefined) {
      return err('no push attempt has this CheckoutRequestID');
    }
    const candidates = await findUnansweredPushes(db, phone, result.amount, new Date(receivedAt.getTime() - MATCH_WINDOW_MS));
    if (candidates.length === 1) return ok({ kind: 'matched', pushRequestId: candidates[0]!.pushRequestId });
    // A concurrent copy of this callback may have matched and stored the id between our two reads.
    const now = await findPushByCheckoutId(db, checkoutRequestId);
    if (now) return ok({ kind: 'known', pushRequestId: now.pushRequestId });
    return err(candidates.length === 0
      ? 'no push attempt has this CheckoutRequestID, and none in flight has its phone and amount'
      : 'several attempts in flight have its phone and amount: an operator must choose');
  }

  private async currentOutcome(callbackId: number): Promise<InboxOutcome> {
    return (await findInboxRow(this.deps.database.db, callbackId))?.outcome ?? 'received';
  }
}
