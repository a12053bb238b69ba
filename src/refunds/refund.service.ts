import type { DatabaseHandle } from '../core/db/database.js';
import type { RefundStatus } from '../core/db/schema.js';
import { inTransaction, isDuplicateKey } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import { err, ok, type Result } from '../core/result.js';
import { insertAudit } from '../store/audit.repository.js';
import { cancelMovie, findMovie } from '../store/movie.repository.js';
import {
  activeRefundForTicket, findRefund, insertFailedRefund, insertRefund, paidTicketsWithoutRefund, refundCountsForMovie,
} from '../store/refund.repository.js';
import { findTicket, findTicketIdByRef, lockTicket } from '../store/ticket.repository.js';
import type { RefundSender } from './refund-sender.js';

/** Why a refund was not recorded. `in_flight_or_done` is the 409 of the admin API. */
export type RefundRefusal =
  | { kind: 'not_found' }
  | { kind: 'invalid'; message: string }
  | { kind: 'not_paid'; message: string }
  | { kind: 'in_flight_or_done'; refundId: number | null; status: RefundStatus | 'refunded by hand'; message: string };

/** The refund JSON of GET /admin/api/refunds/{refundId}. */
export interface RefundJson {
  refundId: number;
  ref: string;
  amount: number;
  status: RefundStatus;
  /** The M-Pesa receipt of the payment reversed (Daraja's TransactionID in the request). */
  transactionId: string | null;
  reason: string | null;
  failureReason: string | null;
  /** The reversal's own M-Pesa transaction, once its result came. */
  reversalTransactionId: string | null;
}

export interface CancelCounts { total: number; refunded: number; failed: number; inFlight: number }

export interface RefundServiceDeps {
  database: DatabaseHandle;
  sender: RefundSender;
  logger: Logger;
  now: () => Date;
}

const NO_RECEIPT = 'This payment has no M-Pesa receipt yet (it was confirmed by STK Query), so it cannot be reversed: refund it once the receipt arrives, or by hand.';

/**
 * Refunds as operators ask for them: one ticket (a click on the refunds page or the ticket page, or the JSON API),
 * or every Paid ticket of a cancelled show. Each refund is recorded (requested) in one transaction with its audit
 * row, under the ticket's lock, before anything is sent; the database's unique activeTicketId makes a second one for
 * the same ticket impossible, whatever the clicks or instances. Sending is the sender's (refund-sender.ts).
 */
export class RefundService {
  constructor(private readonly deps: RefundServiceDeps) {}

  /** Records a refund of the ticket (by row id or public reference) and starts sending it. */
  async request(input: { ticketId?: number; ref?: string; reason: string; actor: string }): Promise<Result<{ refundId: number; status: 'requested' }, RefundRefusal>> {
    const { database } = this.deps;
    const ticketId = input.ticketId ?? (input.ref ? await findTicketIdByRef(database.db, input.ref) : undefined);
    if (ticketId === undefined || !Number.isSafeInteger(ticketId) || ticketId <= 0) return err({ kind: 'not_found' });
    const reason = input.reason.trim().slice(0, 255);
    if (reason === '') return err({ kind: 'invalid', message: 'Give a reason for the refund (the customer and the audit log see why).' });
    const r = await this.record(ticketId, reason, input.actor);
    if (r.ok) void this.deps.sender.send(r.value.refundId);
    return r;
  }

  async get(refundId: number): Promise<RefundJson | undefined> {
    const db = this.deps.database.db;
    const r = Number.isSafeInteger(refundId) && refundId > 0 ? await findRefund(db, refundId) : undefined;
    if (!r) return undefined;
    const t = await findTicket(db, r.ticketId);
    return {
      refundId: r.refundId, ref: t?.ref ?? '', amount: r.amount, status: r.status, transactionId: r.transactionId || null,
      reason: r.reason, failureReason: r.failureReason, reversalTransactionId: r.reversalTransactionId,
    };
  }

  /**
   * Cancels a show: it leaves the catalogue and takes no booking or retry from now on, and each of its Paid tickets
   * gets a refund recorded, sent in the background paced under spike arrest. Repeating it records only what is
   * missing (a payment that arrived since), never a second refund.
   */
  async cancelShow(movieId: number, reasonInput: string, actor: string): Promise<Result<CancelCounts, { kind: 'not_found' } | { kind: 'invalid'; message: string }>> {
    const { database } = this.deps;
    const movie = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(database.db, movieId) : undefined;
    if (!movie) return err({ kind: 'not_found' });
    const reason = reasonInput.trim().slice(0, 255);
    if (reason === '') return err({ kind: 'invalid', message: 'Give a reason for cancelling the show (the customers are told).' });
    const now = this.deps.now();
    await inTransaction(database, async (tx) => {
      if (await cancelMovie(tx, movieId, reason, now)) {
        await insertAudit(tx, { at: now, actor, action: 'movie.cancelled', detail: JSON.stringify({ movieId, title: movie.title, reason }) });
      }
    });
    await this.refundCancelled(movieId, `Show cancelled: ${reason}`);
    this.deps.sender.kick();
    return ok(await refundCountsForMovie(database.db, movieId));
  }

  /** Records refunds for the show's Paid tickets that have none yet (the reconciler calls this for late payments). */
  async refundCancelled(movieId: number, reason?: string): Promise<number> {
    const { database } = this.deps;
    const why = reason ?? `Show cancelled: ${(await findMovie(database.db, movieId))?.cancelReason ?? ''}`;
    let recorded = 0;
    // Every pass records a row for each ticket it saw (a refund, or a failed one when there is no receipt), so the
    // next pass sees new tickets only; the bound is a guard against a ticket that keeps coming back.
    for (let pass = 0; pass < 1000; pass++) {
      const ids = await paidTicketsWithoutRefund(database.db, movieId, 200);
      for (const ticketId of ids) if ((await this.record(ticketId, why, 'cancel')).ok) recorded++;
      if (ids.length < 200) break;
    }
    if (recorded > 0) this.deps.logger.info({ event: 'refunds.cancel_recorded', movieId, recorded }, 'refunds recorded for a cancelled show');
    return recorded;
  }

  /** What the admin cancel page shows: the show, whether it is cancelled and why, and its refund counts. */
  async cancelView(movieId: number): Promise<{ movieId: number; title: string; showTime: string; cancelled: boolean; reason: string | null; counts: CancelCounts } | undefined> {
    const movie = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(this.deps.database.db, movieId) : undefined;
    if (!movie) return undefined;
    return {
      movieId, title: movie.title, showTime: movie.showTime, cancelled: movie.cancelledAt !== null, reason: movie.cancelReason,
      counts: await refundCountsForMovie(this.deps.database.db, movieId),
    };
  }

  async cancelCounts(movieId: number): Promise<CancelCounts | undefined> {
    const movie = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(this.deps.database.db, movieId) : undefined;
    return movie ? refundCountsForMovie(this.deps.database.db, movieId) : undefined;
  }

  /** One refund, recorded under the ticket's lock with its audit row; a payment without a receipt is recorded failed. */
  private async record(ticketId: number, reason: string, actor: string): Promise<Result<{ refundId: number; status: 'requested' }, RefundRefusal>> {
    const { database } = this.deps;
    const now = this.deps.now();
    try {
      return await inTransaction(database, async (tx): Promise<Result<{ refundId: number; status: 'requested' }, RefundRefusal>> => {
        const t = await lockTicket(tx, ticketId);
        if (!t) return err({ kind: 'not_found' });
        if (t.paymentStatus !== 'Paid') return err({ kind: 'not_paid', message: `Ticket ${ticketId} is ${t.paymentStatus}: only a Paid ticket can be refunded.` });
        const active = await activeRefundForTicket(tx, ticketId);
        if (active) return err(inFlight(active.refundId, active.status));
        if (t.refundedAt) return err({ kind: 'in_flight_or_done', refundId: null, status: 'refunded by hand', message: `Ticket ${ticketId} was already marked refunded.` });
        if (!t.mpesaReceiptNumber) {
          if (actor === 'cancel') await insertFailedRefund(tx, { ticketId, amount: t.totalAmount, reason, actor, failureReason: NO_RECEIPT, now });
          return err({ kind: 'not_paid', message: NO_RECEIPT });
        }
        const refundId = await insertRefund(tx, { ticketId, amount: t.totalAmount, transactionId: t.mpesaReceiptNumber, reason, actor, now, nextAttemptAt: now });
        await insertAudit(tx, { at: now, actor, action: 'refund.requested', ticketId, detail: JSON.stringify({ refundId, amount: t.totalAmount, receipt: t.mpesaReceiptNumber, reason }) });
        return ok({ refundId, status: 'requested' as const });
      });
    } catch (e) {
      // The unique activeTicketId refused a second refund in flight: another request won the race.
      if (!isDuplicateKey(e)) throw e;
      const active = await activeRefundForTicket(database.db, ticketId);
      return err(inFlight(active?.refundId ?? null, active?.status ?? 'requested'));
    }
  }
}

function inFlight(refundId: number | null, status: RefundStatus): RefundRefusal {
  const what = status === 'refunded' ? 'was already refunded' : `has a refund in flight (${status})`;
  return { kind: 'in_flight_or_done', refundId, status, message: `This ticket ${what}${refundId ? `: refund #${refundId}` : ''}.` };
}
