import type { DatabaseHandle } from '../core/db/database.js';
import { fromDbTime } from '../core/db/time.js';
import type { InboxOutcome, Refund } from '../core/db/schema.js';
import { inTransaction } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import { explainInitiatorFailure, type InitiatorResult } from '../daraja/initiator.js';
import { insertAudit } from '../store/audit.repository.js';
import { releaseTickets } from '../store/movie.repository.js';
import { enqueueNotification } from '../store/notification.repository.js';
import { findRefund, findRefundByConversation, markRefundDone, markRefundFailed } from '../store/refund.repository.js';
import { lockTicket, markReversed } from '../store/ticket.repository.js';

/** What a Transaction Status result says about the payment it was asked about. */
export type StatusVerdict = 'reversed' | 'not_reversed' | 'unclear';

/**
 * Reads a Transaction Status result about the original payment. Safaricom documents no list of values: a payment
 * that was reversed is reported with "Reversed" in TransactionStatus (or a reversal as ReasonType); a completed one
 * that was not reversed says "Completed". Anything else (a non-zero ResultCode, an unknown wording) is unclear and is
 * asked about again later.
 */
export function statusVerdict(r: InitiatorResult): StatusVerdict {
  if (r.resultCode !== '0') return 'unclear';
  const status = String(r.parameters.TransactionStatus ?? '');
  const reasonType = String(r.parameters.ReasonType ?? '');
  if (/revers/i.test(status) || /revers/i.test(reasonType)) return 'reversed';
  if (/^completed$/i.test(status.trim())) return 'not_reversed';
  return 'unclear';
}

export interface RefundApplierDeps {
  database: DatabaseHandle;
  logger: Logger;
  now: () => Date;
  /** A refund still unknown this long after it was sent, and reported not reversed, is failed (so it can be retried). */
  settleAfterMs: number;
}

/**
 * Applies results to refunds, each in one transaction: the ticket is locked first (lock order: ticket → refund →
 * movie), then the refund's conditional update decides; only the caller whose update changed the row writes the
 * ticket, releases seats, audits and queues the customer's message. A repeat, or the same result at another instance,
 * finds the refund final and changes nothing.
 */
export class RefundApplier {
  constructor(private readonly deps: RefundApplierDeps) {}

  /** Applies a result posted to ResultURL or QueueTimeOutURL; the outcome is what the inbox row records. */
  async applyResult(result: InitiatorResult, callbackId: number | null): Promise<{ outcome: InboxOutcome; refund?: Refund; detail: string }> {
    const found = await findRefundByConversation(this.deps.database.db, result);
    if (!found) return { outcome: 'unmatched', detail: 'no refund has this ConversationID' };
    const { refund, via } = found;
    if (via === 'reversal') {
      const changed = result.resultCode === '0'
        ? await this.refunded(refund.refundId, { resultCode: '0', reversalTransactionId: result.transactionId ?? null, callbackId, by: 'reversal result' })
        : await this.failed(refund.refundId, { resultCode: result.resultCode, reason: explainInitiatorFailure(result.resultCode, result.resultDesc), callbackId });
      return { outcome: changed ? 'applied' : 'duplicate', refund, detail: `refund #${refund.refundId}: ${result.resultCode === '0' ? 'reversed' : `failed (${result.resultCode})`}` };
    }
    const verdict = statusVerdict(result);
    if (verdict === 'reversed') {
      const changed = await this.refunded(refund.refundId, { resultCode: '0', reversalTransactionId: null, callbackId, by: 'Transaction Status' });
      return { outcome: changed ? 'applied' : 'duplicate', refund, detail: `refund #${refund.refundId}: Transaction Status says reversed` };
    }
    if (verdict === 'not_reversed' && refund.status === 'unknown' && this.sentLongAgo(refund)) {
      // Never acknowledged, and long enough ago that Daraja would have acted: the reversal was not made. Failing it
      // lets the operator try again; should a lost one still happen, M-Pesa refuses to reverse a payment twice.
      const changed = await this.failed(refund.refundId, {
        resultCode: null, callbackId,
        reason: 'M-Pesa shows this payment was not reversed (the request got no answer): try the refund again.',
      });
      return { outcome: changed ? 'applied' : 'duplicate', refund, detail: `refund #${refund.refundId}: Transaction Status says not reversed` };
    }
    return { outcome: 'duplicate', refund, detail: `refund #${refund.refundId}: Transaction Status ${verdict}, nothing to change yet` };
  }

  /** → refunded: the ticket's refundedAt, its seats released, the audit row and the customer's message, once. */
  async refunded(refundId: number, p: { resultCode: string; reversalTransactionId: string | null; callbackId: number | null; by: string }): Promise<boolean> {
    const now = this.deps.now();
    const done = await inTransaction(this.deps.database, async (tx) => {
      // The ticket is locked before the refund is written: the lock order of store/refund.repository.ts.
      const peek = await findRefund(tx, refundId);
      if (!peek) return undefined;
      const ticket = await lockTicket(tx, peek.ticketId);
      if (!ticket) return undefined;
      if (!(await markRefundDone(tx, refundId, { resultCode: p.resultCode, reversalTransactionId: p.reversalTransactionId, now }))) return undefined;
      if (await markReversed(tx, ticket.ticketId, now)) {
        if (ticket.holdsTickets === 1) await releaseTickets(tx, ticket.movieId, ticket.quantity);
        await enqueueNotification(tx, { ticketId: ticket.ticketId, kind: 'Refunded', email: ticket.email }, now);
      }
      await insertAudit(tx, {
        at: now, actor: 'mpesa', action: 'refund.refunded', ticketId: ticket.ticketId, callbackId: p.callbackId,
        detail: JSON.stringify({ refundId, amount: peek.amount, by: p.by, reversalTransactionId: p.reversalTransactionId }),
      });
      return peek;
    });
    if (done) this.deps.logger.info({ event: 'refunds.refunded', refundId, ticketId: done.ticketId, amount: done.amount }, 'refund paid back');
    return done !== undefined;
  }

  /** → failed with the reason an operator can act on; the ticket can be refunded by a new attempt. */
  async failed(refundId: number, p: { resultCode: string | null; reason: string; callbackId: number | null; actor?: string }): Promise<boolean> {
    const now = this.deps.now();
    const done = await inTransaction(this.deps.database, async (tx) => {
      const peek = await findRefund(tx, refundId);
      if (!peek) return undefined;
      if (!(await markRefundFailed(tx, refundId, { resultCode: p.resultCode, failureReason: p.reason, now }))) return undefined;
      await insertAudit(tx, {
        at: now, actor: p.actor ?? 'mpesa', action: 'refund.failed', ticketId: peek.ticketId, callbackId: p.callbackId,
        detail: JSON.stringify({ refundId, resultCode: p.resultCode, reason: p.reason }),
      });
      return peek;
    });
    if (done) this.deps.logger.warn({ event: 'refunds.failed', refundId, ticketId: done.ticketId, resultCode: p.resultCode }, `refund failed: ${p.reason}`);
    return done !== undefined;
  }

  private sentLongAgo(r: Refund): boolean {
    const sent = r.sendingSince ?? r.createdAt;
    return this.deps.now().getTime() - fromDbTime(sent).getTime() >= this.deps.settleAfterMs;
  }
}
