import { sql } from 'kysely';
import type { Executor } from '../core/db/transaction.js';
import type { Refund, RefundStatus } from '../core/db/schema.js';
import { changed, fit, insertedId } from '../core/db/rows.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';

/**
 * The refund table's one owner: money given back through M-Pesa Transaction Reversal, one row per attempt.
 *
 * The state machine:
 *   (operator or a cancelled show) → requested     recorded BEFORE the reversal is sent (insertRefund)
 *   requested → requested (taken)   a sender takes it to send it: sendingSince is set (takeForSending)
 *   requested (taken) → requested   Daraja refused it at once as busy (spike arrest): nothing was done, it may be
 *                                   sent again later (releaseAfterBusy)
 *   requested → accepted            Daraja acknowledged it; its ConversationIDs are stored (markAccepted)
 *   requested → failed              Daraja refused it at once for good (markFailed)
 *   requested → unknown             no answer (a timeout), or taken and never answered (a crash) (markUnknown)
 *   accepted | unknown → refunded   a result (or Transaction Status) says it was reversed (markRefundDone)
 *   accepted | unknown → failed     a result says it was not (markFailed)
 * refunded and failed are final. A failed refund leaves the ticket refundable again: a new row is a new attempt.
 *
 * The rules:
 * - At most one refund per ticket is requested, accepted, unknown or refunded, and the DATABASE enforces it:
 *   activeTicketId holds the ticket's id in those states and is unique; markFailed clears it. A second insert for
 *   the ticket fails with a duplicate key, whatever the number of instances or clicks.
 * - A refund is sent only by whoever's takeForSending changed its row, and only once: a taken refund that got no
 *   answer becomes unknown and is settled by Transaction Status, never sent again blindly.
 * - Every transition is one conditional UPDATE naming the states it leaves: a repeated or concurrent result finds
 *   nothing to change and gets false; callers act only on true.
 * - Lock order inside a transaction, as for payments: inbox row → ticket → refund → movie.
 */

/** Statuses in which a refund counts as in flight (money may still move). */
export const IN_FLIGHT: readonly RefundStatus[] = ['requested', 'accepted', 'unknown'];

export async function insertRefund(
  tx: Executor,
  r: { ticketId: number; amount: number; transactionId: string; reason: string | null; actor: string; now: Date; nextAttemptAt: Date },
): Promise<number> {
  const at = toDbTime(r.now);
  const res = await tx
    .insertInto('refund')
    .values({
      ticketId: r.ticketId,
      activeTicketId: r.ticketId,
      amount: r.amount,
      transactionId: r.transactionId,
      status: 'requested',
      reason: fit(r.reason, 255),
      actor: fit(r.actor, 100)!,
      conversationId: null,
      originatorConversationId: null,
      reversalTransactionId: null,
      statusConversationId: null,
      statusOriginatorConversationId: null,
      resultCode: null,
      failureReason: null,
      sendingSince: null,
      nextAttemptAt: toDbTime(r.nextAttemptAt),
      createdAt: at,
      acceptedAt: null,
      completedAt: null,
      updatedAt: at,
    })
    .executeTakeFirstOrThrow();
  return insertedId(res);
}

/** A refund that could not even be asked for (no receipt to reverse): recorded as failed at once, so it is counted. */
export async function insertFailedRefund(
  tx: Executor,
  r: { ticketId: number; amount: number; reason: string | null; actor: string; failureReason: string; now: Date },
): Promise<number> {
  const at = toDbTime(r.now);
  const res = await tx
    .insertInto('refund')
    .values({
      ticketId: r.ticketId, activeTicketId: null, amount: r.amount, transactionId: '', status: 'failed', reason: fit(r.reason, 255),
      actor: fit(r.actor, 100)!, conversationId: null, originatorConversationId: null, reversalTransactionId: null,
      statusConversationId: null, statusOriginatorConversationId: null, resultCode: null, failureReason: fit(r.failureReason, 255),
      sendingSince: null, nextAttemptAt: null, createdAt: at, acceptedAt: null, completedAt: at, updatedAt: at,
    })
    .executeTakeFirstOrThrow();
  return insertedId(res);
}

export async function findRefund(db: Executor, refundId: number): Promise<Refund | undefined> {
  return db.selectFrom('refund').selectAll().where('refundId', '=', refundId).executeTakeFirst();
}

export async function lockRefund(tx: Executor, refundId: number): Promise<Refund | undefined> {
  return tx.selectFrom('refund').selectAll().where('refundId', '=', refundId).forUpdate().executeTakeFirst();
}

/** The ticket's refund in flight or done, if any. */
export async function activeRefundForTicket(db: Executor, ticketId: number): Promise<Refund | undefined> {
  return db.selectFrom('refund').selectAll().where('activeTicketId', '=', ticketId).executeTakeFirst();
}

export async function refundsForTicket(db: Executor, ticketId: number): Promise<Refund[]> {
  return db.selectFrom('refund').selectAll().where('ticketId', '=', ticketId).orderBy('refundId').execute();
}

/** The newest refund of each ticket (for the status JSON and the lists). */
export async function latestRefunds(db: Executor, ticketIds: readonly number[]): Promise<Map<number, Refund>> {
  const out = new Map<number, Refund>();
  if (ticketIds.length === 0) return out;
  const rows = await db.selectFrom('refund').selectAll().where('ticketId', 'in', [...new Set(ticketIds)]).orderBy('refundId').execute();
  for (const r of rows) out.set(r.ticketId, r);
  return out;
}

/** The refund a result is about: by the reversal's ids, or by the ids of a Transaction Status asked about it. */
export async function findRefundByConversation(
  db: Executor, ids: { conversationId?: string | undefined; originatorConversationId?: string | undefined },
): Promise<{ refund: Refund; via: 'reversal' | 'status' } | undefined> {
  const { conversationId: c, originatorConversationId: o } = ids;
  if (!c && !o) return undefined;
  const match = (a: 'conversationId' | 'statusConversationId', b: 'originatorConversationId' | 'statusOriginatorConversationId') =>
    db.selectFrom('refund').selectAll().where((eb) => eb.or([
      ...(c ? [eb(a, '=', c)] : []),
      ...(o ? [eb(b, '=', o)] : []),
    ])).orderBy('refundId', 'desc').executeTakeFirst();
  const reversal = await match('conversationId', 'originatorConversationId');
  if (reversal) return { refund: reversal, via: 'reversal' };
  const status = await match('statusConversationId', 'statusOriginatorConversationId');
  return status ? { refund: status, via: 'status' } : undefined;
}

// ── sending ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Requested refunds nobody has taken, due to be sent, oldest first. */
export async function dueToSend(db: Executor, now: Date, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('refund')
    .select('refundId')
    .where('status', '=', 'requested')
    .where('sendingSince', 'is', null)
    .where('nextAttemptAt', '<=', toDbTime(now))
    .orderBy('nextAttemptAt')
    .orderBy('refundId')
    .limit(limit)
    .execute();
  return rows.map((r) => r.refundId);
}

/** When the next requested refund nobody has taken may be sent, if one waits. */
export async function nextSendAt(db: Executor): Promise<Date | undefined> {
  const r = await db.selectFrom('refund').select('nextAttemptAt').where('status', '=', 'requested').where('sendingSince', 'is', null)
    .orderBy('nextAttemptAt').limit(1).executeTakeFirst();
  return r?.nextAttemptAt ? fromDbTime(r.nextAttemptAt) : undefined;
}

/** Takes a requested refund for sending. True for exactly one caller, once: only that caller may send it. */
export async function takeForSending(db: Executor, refundId: number, now: Date): Promise<boolean> {
  const at = toDbTime(now);
  const r = await db
    .updateTable('refund')
    .set({ sendingSince: at, attempts: sql`attempts + 1`, updatedAt: at })
    .where('refundId', '=', refundId)
    .where('status', '=', 'requested')
    .where('sendingSince', 'is', null)
    .executeTakeFirst();
  return changed(r);
}

/** Daraja refused the request at once because it was busy: nothing happened, so it may be sent again at `retryAt`. */
export async function releaseAfterBusy(db: Executor, refundId: number, retryAt: Date, why: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('refund')
    .set({ sendingSince: null, nextAttemptAt: toDbTime(retryAt), failureReason: fit(why, 255), updatedAt: toDbTime(now) })
    .where('refundId', '=', refundId)
    .where('status', '=', 'requested')
    .where('sendingSince', 'is not', null)
    .executeTakeFirst();
  return changed(r);
}

/**
 * Daraja's acknowledgement: requested → accepted with its ids. When a result or the reconciler got there first
 * (unknown, or even final), the ids are still stored where none were, so a later result can be matched.
 */
export async function markAccepted(
  db: Executor, refundId: number, ids: { conversationId: string; originatorConversationId: string }, p: { now: Date; checkAt: Date },
): Promise<boolean> {
  const at = toDbTime(p.now);
  const r = await db
    .updateTable('refund')
    .set({
      status: 'accepted', conversationId: fit(ids.conversationId, 64), originatorConversationId: fit(ids.originatorConversationId, 64),
      acceptedAt: at, failureReason: null, nextAttemptAt: toDbTime(p.checkAt), updatedAt: at,
    })
    .where('refundId', '=', refundId)
    .where('status', '=', 'requested')
    .executeTakeFirst();
  if (changed(r)) return true;
  await db
    .updateTable('refund')
    .set({ conversationId: fit(ids.conversationId, 64), originatorConversationId: fit(ids.originatorConversationId, 64), updatedAt: at })
    .where('refundId', '=', refundId)
    .where('conversationId', 'is', null)
    .execute();
  return false;
}

/** requested → unknown: the reversal may or may not have been made; Transaction Status settles it from `checkAt`. */
export async function markUnknown(db: Executor, refundId: number, why: string, p: { now: Date; checkAt: Date }): Promise<boolean> {
  const r = await db
    .updateTable('refund')
    .set({ status: 'unknown', failureReason: fit(why, 255), nextAttemptAt: toDbTime(p.checkAt), updatedAt: toDbTime(p.now) })
    .where('refundId', '=', refundId)
    .where('status', '=', 'requested')
    .where('sendingSince', 'is not', null)
    .executeTakeFirst();
  return changed(r);
}

/** Taken for sending before `before` and still requested: the sender died between taking and hearing back. */
export async function takenButUnanswered(db: Executor, before: Date, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('refund')
    .select('refundId')
    .where('status', '=', 'requested')
    .where('sendingSince', '<=', toDbTime(before))
    .orderBy('refundId')
    .limit(limit)
    .execute();
  return rows.map((r) => r.refundId);
}

// ── results ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** → refunded, from any state still in flight. Keeps activeTicketId: the ticket's money is back, once. */
export async function markRefundDone(
  tx: Executor, refundId: number, p: { resultCode: string; reversalTransactionId: string | null; now: Date },
): Promise<boolean> {
  const at = toDbTime(p.now);
  const r = await tx
    .updateTable('refund')
    .set({
      status: 'refunded', resultCode: fit(p.resultCode, 20), reversalTransactionId: fit(p.reversalTransactionId, 20), failureReason: null,
      nextAttemptAt: null, completedAt: at, updatedAt: at,
    })
    .where('refundId', '=', refundId)
    .where('status', 'in', [...IN_FLIGHT])
    .executeTakeFirst();
  return changed(r);
}

/** → failed, from any state still in flight; clears activeTicketId so the ticket can be refunded by a new attempt. */
export async function markRefundFailed(
  tx: Executor, refundId: number, p: { resultCode: string | null; failureReason: string; now: Date },
): Promise<boolean> {
  const at = toDbTime(p.now);
  const r = await tx
    .updateTable('refund')
    .set({
      status: 'failed', activeTicketId: null, resultCode: fit(p.resultCode, 20), failureReason: fit(p.failureReason, 255),
      nextAttemptAt: null, completedAt: at, updatedAt: at,
    })
    .where('refundId', '=', refundId)
    .where('status', 'in', [...IN_FLIGHT])
    .executeTakeFirst();
  return changed(r);
}

// ── the reconciler's side ───────────────────────────────────────────────────────────────────────────────────────

/**
 * Claims accepted and unknown refunds due for a Transaction Status by moving nextAttemptAt to `next` (FOR UPDATE SKIP
 * LOCKED inside a transaction on MySQL, as the ticket reconciler does), so each is asked about once per interval.
 */
export async function claimDueStatusChecks(tx: Executor, now: Date, next: Date, limit: number): Promise<number[]> {
  const rows = await tx
    .selectFrom('refund')
    .select('refundId')
    .where('status', 'in', ['accepted', 'unknown'])
    .where('nextAttemptAt', '<=', toDbTime(now))
    .orderBy('nextAttemptAt')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  const ids = rows.map((r) => r.refundId);
  if (ids.length > 0) {
    await tx.updateTable('refund').set({ nextAttemptAt: toDbTime(next), statusChecks: sql`statusChecks + 1` }).where('refundId', 'in', ids).execute();
  }
  return ids;
}

/** Stores the ids of a Transaction Status asked about the refund, so its result can be matched. */
export async function recordStatusQuery(db: Executor, refundId: number, ids: { conversationId: string; originatorConversationId: string }, now: Date): Promise<void> {
  await db
    .updateTable('refund')
    .set({ statusConversationId: fit(ids.conversationId, 64), statusOriginatorConversationId: fit(ids.originatorConversationId, 64), updatedAt: toDbTime(now) })
    .where('refundId', '=', refundId)
    .execute();
}

// ── the operator's views ────────────────────────────────────────────────────────────────────────────────────────

/** Refunds still in flight after many status checks: money whose fate M-Pesa has not told us. */
export async function unsettledRefunds(db: Executor, minChecks: number, limit: number): Promise<Refund[]> {
  return db.selectFrom('refund').selectAll().where('status', 'in', ['accepted', 'unknown']).where('statusChecks', '>=', minChecks)
    .orderBy('refundId').limit(limit).execute();
}

export async function recentFailedRefunds(db: Executor, limit: number): Promise<Refund[]> {
  return db.selectFrom('refund').selectAll().where('status', '=', 'failed').orderBy('refundId', 'desc').limit(limit).execute();
}

/** A show's Paid tickets by the state of their newest refund: what the cancel page counts. */
export async function refundCountsForMovie(db: Executor, movieId: number): Promise<{ total: number; refunded: number; failed: number; inFlight: number }> {
  const tickets = await db.selectFrom('ticket').select(['ticketId', 'refundedAt']).where('movieId', '=', movieId).where('paymentStatus', '=', 'Paid').execute();
  const latest = await latestRefundsChunked(db, tickets.map((t) => t.ticketId));
  const counts = { total: tickets.length, refunded: 0, failed: 0, inFlight: 0 };
  for (const t of tickets) {
    const r = latest.get(t.ticketId);
    if (t.refundedAt || r?.status === 'refunded') counts.refunded++;
    else if (r && IN_FLIGHT.includes(r.status)) counts.inFlight++;
    else counts.failed++;
  }
  return counts;
}

async function latestRefundsChunked(db: Executor, ids: number[]): Promise<Map<number, Refund>> {
  const out = new Map<number, Refund>();
  for (let i = 0; i < ids.length; i += 500) for (const [k, v] of await latestRefunds(db, ids.slice(i, i + 500))) out.set(k, v);
  return out;
}

/** A show's Paid tickets, not refunded, that have no refund row at all (a cancelled show's tickets still to record). */
export async function paidTicketsWithoutRefund(db: Executor, movieId: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('ticket')
    .select('ticket.ticketId')
    .where('ticket.movieId', '=', movieId)
    .where('ticket.paymentStatus', '=', 'Paid')
    .where('ticket.refundedAt', 'is', null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('refund').select('refund.refundId').whereRef('refund.ticketId', '=', 'ticket.ticketId'))))
    .orderBy('ticket.ticketId')
    .limit(limit)
    .execute();
  return rows.map((r) => r.ticketId);
}
