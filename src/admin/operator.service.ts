import type { InboxOutcome } from '../core/db/schema.js';
import { inTransaction } from '../core/db/transaction.js';
import { err, ok, type Result } from '../core/result.js';
import type { AssignRefusal } from '../payments/result-applier.js';
import { insertAudit } from '../store/audit.repository.js';
import { findInboxRow } from '../store/callback-inbox.repository.js';
import { findTicket, markRefunded } from '../store/ticket.repository.js';
import type { AdminContext } from './admin-views.js';
import { resolveTicket } from './ticket-detail.read-model.js';

/** What the payments feature offers the operator: apply an unmatched callback to a ticket, as a real one would be. */
export interface CallbackAssigner {
  assignCallback(callbackId: number, ticketId: number, actor: string): Promise<Result<InboxOutcome, AssignRefusal>>;
}

/** Why an operator's assignment was not made (the form shows the field message, the rest are pages of their own). */
export type AssignFailure = AssignRefusal | { kind: 'invalid'; fields: { ticket: string } };

export type RefundMarkFailure = { kind: 'not_found' } | { kind: 'not_due'; message: string };

/**
 * The operator's writes, each in one transaction with its audit row: assigning an unmatched callback to a ticket
 * (through payments, which applies it as a callback and audits it) and recording a refund given back by hand.
 * Movies are written by the movie service, which audits the same way.
 */
export class OperatorService {
  constructor(private readonly ctx: AdminContext, private readonly assigner: CallbackAssigner) {}

  /** Applies an unmatched callback to the ticket the operator names (a row id, a reference or a ticket link). */
  async assignCallback(callbackId: number, ticketInput: string, actor: string): Promise<Result<{ outcome: InboxOutcome; ticketId: number }, AssignFailure>> {
    const row = Number.isSafeInteger(callbackId) && callbackId > 0 ? await findInboxRow(this.ctx.database.db, callbackId) : undefined;
    if (!row) return err({ kind: 'callback_not_found' });
    if (row.outcome !== 'unmatched') return err({ kind: 'not_unmatched', outcome: row.outcome });
    if (ticketInput.trim() === '') return err({ kind: 'invalid', fields: { ticket: 'Enter the ticket number or its reference.' } });
    const ticketId = await resolveTicket(this.ctx, ticketInput);
    if (ticketId === undefined) return err({ kind: 'invalid', fields: { ticket: 'No ticket has that number or reference.' } });
    const r = await this.assigner.assignCallback(callbackId, ticketId, actor);
    return r.ok ? ok({ outcome: r.value, ticketId }) : r;
  }

  /** Records that the money was given back: sets refundedAt once and writes who did it to the audit log. */
  async markRefunded(ticketId: number, actor: string, note: string): Promise<Result<{ ref: string }, RefundMarkFailure>> {
    const { database } = this.ctx;
    const t = Number.isSafeInteger(ticketId) && ticketId > 0 ? await findTicket(database.db, ticketId) : undefined;
    if (!t) return err({ kind: 'not_found' });
    const cleanNote = note.trim().slice(0, 200);
    const at = this.ctx.now();
    // The conditional update decides; the audit row is written in the same transaction, so neither exists alone.
    const done = await inTransaction(database, async (tx) => {
      if (!(await markRefunded(tx, ticketId, at))) return false;
      await insertAudit(tx, {
        at, actor, action: 'refund.marked', ticketId,
        detail: JSON.stringify({ amount: t.totalAmount, phoneNumber: t.phoneNumber, receipt: t.mpesaReceiptNumber, note: cleanNote || null }),
      });
      return true;
    });
    if (!done) {
      const why = t.refundedAt ? 'It was already marked refunded.'
        : t.needsRefund === 1 && t.paymentStatus === 'Paid' ? 'An M-Pesa reversal of it is under way or done: see its refunds.'
        : 'It is not a paid ticket waiting for a refund.';
      return err({ kind: 'not_due', message: `Ticket ${t.ticketId} was not changed. ${why}` });
    }
    return ok({ ref: t.ref });
  }
}
