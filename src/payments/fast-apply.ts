import type { DatabaseHandle } from '../core/db/database.js';
import type { CallbackInboxRow } from '../core/db/schema.js';
import { isDuplicateKey } from '../core/db/transaction.js';
import { describeResultCode } from '../daraja/index.js';
import { finishReceivedRow } from '../store/callback-inbox.repository.js';
import { releaseTicketsFast } from '../store/movie.repository.js';
import { enqueueNotificationFast } from '../store/notification.repository.js';
import {
  completeAttempt, findAttemptsWithTickets, findAttemptWithTicket, type AttemptWithTicket,
} from '../store/push-request.repository.js';
import { markPendingFailed, markPendingPaid } from '../store/ticket.repository.js';
import type { Applied } from './apply-result.js';
import { comparePhone, readInboxBody, type PaymentResult } from './payment-result.js';

/** Why the common case did not apply: 'taken' (someone else processed the row), 'general' (use apply-result.ts). */
export type FastOutcome = Applied | 'taken' | 'general';

/** Thrown inside the fast transaction to roll it back and hand the row to the general path. */
class NotCommonCase extends Error {}
class Taken extends Error {}

/**
 * The common cases of applying a fresh callback, each in ONE transaction of prepared statements, in the lock order
 * (inbox row → ticket → attempt → movie), every update conditional on the state it leaves:
 * - a success for a Pending ticket that holds its seats, for its amount and phone: inbox outcome, ticket Paid, attempt
 *   completed, notification (4 statements after one read of the attempt with its ticket);
 * - a failure of a Pending ticket's newest attempt: inbox outcome, ticket Failed, seats released, attempt completed,
 *   notification (5).
 * Anything else (an unknown CheckoutRequestID, a ticket already Paid or Failed, a wrong amount or phone, a receipt
 * another ticket holds) and any update that finds its row moved on rolls back and returns 'general': apply-result.ts
 * then decides, with row locks, exactly as before. The outcome is therefore the same as the general path's.
 */
export async function applyFresh(
  database: DatabaseHandle, now: Date, row: CallbackInboxRow, checkoutRequestId: string, result: PaymentResult,
  prefetched?: ReadonlyMap<string, AttemptWithTicket>,
): Promise<FastOutcome> {
  if (row.outcome !== 'received' || row.source !== 'callback') return 'general';
  // Read for the whole batch by the applier (prefetchAttempts); absent there, the general path looks again.
  const a = prefetched ? prefetched.get(checkoutRequestId) : await findAttemptWithTicket(database.fast, checkoutRequestId);
  if (!a || a.paymentStatus !== 'Pending') return 'general';
  if (result.kind === 'paid') {
    if (a.holdsTickets !== 1 || result.amount === undefined || result.amount !== a.totalAmount) return 'general';
    if (result.phone !== undefined && comparePhone(result.phone, a.phoneNumber) === 'different') return 'general';
  } else if (a.latestPushRequestId !== a.pushRequestId) {
    return 'general';
  }
  const base = { ticketId: a.ticketId, checkoutRequestId, now };
  try {
    return await database.fast.run(async (c) => {
      if (result.kind === 'paid') {
        if (!(await finishReceivedRow(c, row.callbackId, { ...base, outcome: 'applied', detail: 'paid' }))) throw new Taken();
        if (!(await markPendingPaid(c, a.ticketId, { mpesaReceiptNumber: result.receipt, transactionDate: result.transactionDate, confirmedBy: 'callback', now }))) {
          throw new NotCommonCase();
        }
        await completeAttempt(c, a.pushRequestId, { resultCode: '0', resultDesc: result.resultDesc, now });
        await enqueueNotificationFast(c, { ticketId: a.ticketId, kind: 'Paid', email: a.email, phoneNumber: a.phoneNumber }, now);
        return { outcome: 'applied', detail: 'paid', ticketId: a.ticketId, ticketChange: 'paid' } satisfies Applied;
      }
      const detail = `failed: ResultCode ${result.resultCode}`;
      if (!(await finishReceivedRow(c, row.callbackId, { ...base, outcome: 'applied', detail }))) throw new Taken();
      const failureReason = describeResultCode(result.resultCode, result.resultDesc);
      if (!(await markPendingFailed(c, a.ticketId, { resultCode: result.resultCode, failureReason, holdsTickets: a.holdsTickets, now }))) {
        throw new NotCommonCase();
      }
      if (a.holdsTickets === 1) await releaseTicketsFast(c, a.movieId, a.quantity);
      await completeAttempt(c, a.pushRequestId, { resultCode: result.resultCode, resultDesc: result.resultDesc, now });
      await enqueueNotificationFast(c, { ticketId: a.ticketId, kind: 'Failed', email: a.email, phoneNumber: a.phoneNumber }, now);
      return { outcome: 'applied', detail, ticketId: a.ticketId, ticketChange: 'failed' } satisfies Applied;
    }, { transaction: true });
  } catch (err) {
    if (err instanceof Taken) return 'taken';
    // A receipt another ticket already holds (a unique index) is the general path's to judge.
    if (err instanceof NotCommonCase || isDuplicateKey(err)) return 'general';
    throw err;
  }
}

/** The attempts (with their tickets) that a batch of fresh callbacks name, in one read. */
export async function prefetchAttempts(database: DatabaseHandle, rows: readonly CallbackInboxRow[]): Promise<Map<string, AttemptWithTicket>> {
  const ids = new Set<string>();
  for (const row of rows) {
    if (row.outcome !== 'received' || row.source !== 'callback') continue;
    const read = readInboxBody(row);
    if (read.ok) ids.add(read.value.checkoutRequestId);
  }
  return findAttemptsWithTickets(database.fast, [...ids]);
}
