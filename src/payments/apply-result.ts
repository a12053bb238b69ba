import type { DatabaseHandle } from '../core/db/database.js';
import type { InboxOutcome, PushRequest, Ticket } from '../core/db/schema.js';
import { inTransaction, isDuplicateKey, type Executor } from '../core/db/transaction.js';
import { describeResultCode, maskPhone } from '../daraja/index.js';
import { insertAudit } from '../store/audit.repository.js';
import { claimInboxRow, finishInboxRow } from '../store/callback-inbox.repository.js';
import { holdTickets, releaseTickets } from '../store/movie.repository.js';
import { enqueueNotification } from '../store/notification.repository.js';
import {
  complete, findPush, insertOperatorAttempt, latestPushId, lockFreeAttempt, lockPush, storeCheckoutId,
} from '../store/push-request.repository.js';
import {
  addReceipt, flagForRefund, lockTicket, markFailed, markPaid, ticketIdWithReceipt,
} from '../store/ticket.repository.js';
import { comparePhone, type PaymentResult } from './payment-result.js';

/** Which attempt a result belongs to. */
export type ResultTarget =
  /** The attempt carries the result's CheckoutRequestID. */
  | { kind: 'known'; pushRequestId: number }
  /** The only unanswered attempt with the callback's phone and amount: the id is stored on it if still free. */
  | { kind: 'matched'; pushRequestId: number }
  /** An operator says which ticket it is for (admin page): applied to its unanswered attempt, or a new one. */
  | { kind: 'operator'; ticketId: number; actor: string };

export interface ApplyInput {
  callbackId: number;
  /** The inbox row's outcome when it was read; the row is claimed only if it still has it. */
  expected: InboxOutcome;
  checkoutRequestId: string;
  target: ResultTarget;
  result: PaymentResult;
}

export interface Applied {
  outcome: InboxOutcome;
  detail: string;
  ticketId: number | null;
  /** What happened to the ticket, for the reconciler's report and the logs. */
  ticketChange: 'paid' | 'failed' | 'refund-flagged' | 'receipt-added' | null;
}

/** The row was processed by someone else between our read and our claim. */
export class InboxRowTaken extends Error {
  constructor() {
    super('inbox row already processed');
  }
}

/** Thrown inside the transaction to roll it back: a row changed under a lock we hold, which should not happen. */
class Invariant extends Error {}

/**
 * Applies one final result in ONE transaction: the inbox row, the ticket, the attempt, the tickets held and the
 * notification change together or not at all. Locks are taken in one order everywhere (inbox row → ticket → attempt
 * → movie) so concurrent callbacks queue up instead of deadlocking; every update is conditional on the state it
 * leaves, so a repeat or a concurrent duplicate finds nothing to change ('duplicate'). A Paid ticket never goes back;
 * a result that contradicts a confirmed payment (a failure of the paid attempt, a second receipt) is a 'conflict'.
 */
export async function applyResult(database: DatabaseHandle, now: Date, input: ApplyInput): Promise<Applied> {
  return againIfReceiptTaken(() => inTransaction(database, async (tx) => {
    if (!(await claimInboxRow(tx, input.callbackId, input.expected, now))) throw new InboxRowTaken();
    const { result, checkoutRequestId, target } = input;

    const finish = async (outcome: InboxOutcome, detail: string, ticketId: number | null, ticketChange: Applied['ticketChange'] = null): Promise<Applied> => {
      if (!(await finishInboxRow(tx, input.callbackId, input.expected, { outcome, detail, ticketId, checkoutRequestId, now }))) {
        throw new InboxRowTaken();
      }
      if (target.kind === 'operator') {
        await insertAudit(tx, {
          actor: target.actor, action: 'callback.assign', ticketId: target.ticketId, callbackId: input.callbackId,
          detail: `${outcome}: ${detail}`, at: now,
        });
      }
      return { outcome, detail, ticketId, ticketChange };
    };

    // ── which ticket and attempt ──
    let ticket: Ticket | undefined;
    let push: PushRequest | undefined;
    if (target.kind === 'operator') {
      ticket = await lockTicket(tx, target.ticketId);
      if (!ticket) return finish('unmatched', 'the ticket the operator chose does not exist', null);
      push = await lockFreeAttempt(tx, ticket.ticketId);
    } else {
      // The attempt names its ticket; the ticket is locked before the attempt (the lock order).
      const unlocked = await findPush(tx, target.pushRequestId);
      if (!unlocked) return finish('unmatched', 'the push attempt is gone', null);
      ticket = await lockTicket(tx, unlocked.ticketId);
      push = await lockPush(tx, target.pushRequestId);
      if (!ticket || !push) return finish('unmatched', 'the push attempt or its ticket is gone', null);
    }

    // ── a success must be for this ticket's amount and phone, else nothing changes ──
    if (result.kind === 'paid') {
      // (A callback's success without its receipt, Amount or PhoneNumber never gets here: payment-result.ts refuses it.)
      if (result.amount !== undefined && result.amount !== ticket.totalAmount) {
        return finish('mismatch', `amount ${result.amount} is not the ticket total ${ticket.totalAmount}`, ticket.ticketId);
      }
      if (result.phone !== undefined && comparePhone(result.phone, ticket.phoneNumber) === 'different') {
        return finish('mismatch', `phone ${maskPhone(result.phone)} is not the ticket's ${maskPhone(ticket.phoneNumber)}`, ticket.ticketId);
      }
      // One receipt pays one ticket (a unique index says so too): another ticket's receipt does not pay this one.
      const owner = result.receipt === null ? undefined : await ticketIdWithReceipt(tx, result.receipt);
      if (owner !== undefined && owner !== ticket.ticketId) {
        return finish('mismatch', `receipt ${result.receipt} is already recorded for ticket ${owner}`, ticket.ticketId);
      }
    }

    // ── the CheckoutRequestID goes onto the attempt it was matched to ──
    if (target.kind === 'operator') {
      if (push === undefined) push = await operatorAttempt(tx, ticket, checkoutRequestId, now);
      else if (!(await storeCheckoutId(tx, push.pushRequestId, { checkoutRequestId }))) throw new Invariant('attempt changed under lock');
    }
    if (push === undefined) throw new Invariant('no attempt');
    if (target.kind === 'matched' && push.checkoutRequestId !== checkoutRequestId) {
      if (push.checkoutRequestId !== null) {
        return finish('unmatched', 'the attempt with this phone and amount has since received another CheckoutRequestID', null);
      }
      if (!(await storeCheckoutId(tx, push.pushRequestId, { checkoutRequestId }))) throw new Invariant('attempt changed under lock');
    }

    const attempt: PushRequest = push;
    const attemptDone = !(await complete(tx, attempt.pushRequestId, {
      resultCode: result.kind === 'paid' ? '0' : result.resultCode, resultDesc: result.resultDesc, now,
    }));
    const email = ticket.email;
    const confirmedBy = result.kind === 'paid' ? (target.kind === 'operator' ? 'operator' : result.confirmedBy) : null;

    if (result.kind === 'paid') {
      switch (ticket.paymentStatus) {
        case 'Pending': {
          // A Pending ticket holds its tickets; if it somehow does not, hold them now or flag the money for refund.
          const holds = ticket.holdsTickets === 1 || (await holdTickets(tx, ticket.movieId, ticket.quantity));
          if (!(await markPaid(tx, ticket.ticketId, 'Pending', {
            mpesaReceiptNumber: result.receipt, transactionDate: result.transactionDate, confirmedBy: confirmedBy!,
            holdsTickets: holds ? 1 : 0, needsRefund: holds ? 0 : 1, now,
          }))) throw new Invariant('ticket changed under lock');
          await enqueueNotification(tx, { ticketId: ticket.ticketId, kind: 'Paid', email }, now);
          return finish('applied', holds ? 'paid' : 'paid, but its tickets could not be held: flagged for refund', ticket.ticketId, 'paid');
        }
        case 'Failed': {
          // Late: the ticket expired or failed, yet the money was taken. Never lose it: Paid if the seats are still
          // there, else Paid and flagged for refund.
          const held = await holdTickets(tx, ticket.movieId, ticket.quantity);
          if (!(await markPaid(tx, ticket.ticketId, 'Failed', {
            mpesaReceiptNumber: result.receipt, transactionDate: result.transactionDate, confirmedBy: confirmedBy!,
            holdsTickets: held ? 1 : 0, needsRefund: held ? 0 : 1, now,
          }))) throw new Invariant('ticket changed under lock');
          await enqueueNotification(tx, { ticketId: ticket.ticketId, kind: 'Paid', email }, now);
          return finish('applied', held ? 'late payment after Failed: tickets held again'
            : 'late payment after Failed: sold out meanwhile, flagged for refund', ticket.ticketId, 'paid');
        }
        case 'Paid': {
          // One attempt is charged at most once, so the same attempt (or the same receipt) is the same payment.
          const samePayment = (result.receipt !== null && result.receipt === ticket.mpesaReceiptNumber) ||
            (attemptDone && attempt.resultCode === '0');
          if (samePayment) {
            if (ticket.mpesaReceiptNumber === null && result.receipt !== null &&
              (await addReceipt(tx, ticket.ticketId, result.receipt, result.transactionDate, now))) {
              return finish('applied', 'receipt added to a payment confirmed by STK Query', ticket.ticketId, 'receipt-added');
            }
            if (result.receipt !== null && ticket.mpesaReceiptNumber !== null && result.receipt !== ticket.mpesaReceiptNumber) {
              // One attempt, two receipts: Daraja contradicts itself. Nothing changes; a person must look.
              return finish('conflict', `receipt ${result.receipt} for an attempt already paid with ${ticket.mpesaReceiptNumber}`, ticket.ticketId);
            }
            return finish('duplicate', 'payment already recorded', ticket.ticketId);
          }
          await flagForRefund(tx, ticket.ticketId, now);
          return finish('applied', 'second payment', ticket.ticketId, 'refund-flagged');
        }
      }
    }

    // ── a failure ──
    if (ticket.paymentStatus === 'Paid' && attemptDone && attempt.resultCode === '0') {
      // The very attempt that was confirmed paid (by callback, query or operator) is now said to have failed. Paid
      // stays (the money was taken by the first account), but a person must look.
      return finish('conflict', `failure (ResultCode ${result.resultCode}) after this attempt was confirmed paid by ${ticket.confirmedBy ?? 'an earlier result'}`, ticket.ticketId);
    }
    if (ticket.paymentStatus !== 'Pending') {
      return finish('duplicate', `ticket already ${ticket.paymentStatus}`, ticket.ticketId);
    }
    if ((await latestPushId(tx, ticket.ticketId)) !== attempt.pushRequestId) {
      // A newer attempt (a retry) is in flight: this failure belongs to the old one only.
      return finish(attemptDone ? 'duplicate' : 'applied', 'failure of an earlier attempt: the ticket waits for the newer one', ticket.ticketId);
    }
    const failed = await failPending(tx, ticket, {
      resultCode: result.resultCode, failureReason: describeResultCode(result.resultCode, result.resultDesc), now,
    });
    if (!failed) throw new Invariant('ticket changed under lock');
    return finish('applied', `failed: ResultCode ${result.resultCode}`, ticket.ticketId, 'failed');
  }));
}

/**
 * Two tickets paid with one receipt at the same moment (MySQL, where each locks only its own ticket): the unique index
 * refuses the second, whose transaction rolls back. Run once more, its receipt check sees the first and says 'mismatch'.
 */
async function againIfReceiptTaken(run: () => Promise<Applied>): Promise<Applied> {
  try {
    return await run();
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
    return run();
  }
}

/**
 * Pending → Failed with its seats released and the customer told, inside the caller's transaction (the ticket already
 * locked). Every way a ticket fails goes through here: a failure result, a refused push, no answer in time. False
 * when the ticket had already left Pending.
 */
export async function failPending(
  tx: Executor,
  ticket: Ticket,
  p: { resultCode: string | null; failureReason: string; now: Date },
): Promise<boolean> {
  if (ticket.paymentStatus !== 'Pending' || !(await markFailed(tx, ticket.ticketId, p))) return false;
  if (ticket.holdsTickets === 1) await releaseTickets(tx, ticket.movieId, ticket.quantity);
  await enqueueNotification(tx, { ticketId: ticket.ticketId, kind: 'Failed', email: ticket.email }, p.now);
  return true;
}

/** An attempt we have no record of (its id is only in the callback the operator chose): recorded so the result has a home. */
async function operatorAttempt(tx: Executor, ticket: Ticket, checkoutRequestId: string, now: Date): Promise<PushRequest> {
  const push = await findPush(tx, await insertOperatorAttempt(tx, ticket, checkoutRequestId, now));
  if (!push) throw new Invariant('inserted attempt not found');
  return push;
}
