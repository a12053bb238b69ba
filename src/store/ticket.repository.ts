import type { FastConnection } from '../core/db/fast.js';
import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../core/db/transaction.js';
import type { Database } from '../core/db/schema.js';
import type { ConfirmedBy, NewTicket, Ticket } from '../core/db/schema.js';
import { changed, fit, insertedId } from '../core/db/rows.js';
import { isDuplicateKey } from '../core/db/transaction.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';

/**
 * The ticket table's one owner: every write to a ticket is a function here.
 *
 * The state machine:
 *   (booking) → Pending, holding its seats
 *   Pending → Paid                 a success callback or query (markPaid from 'Pending')
 *   Pending → Failed               a failure, a refused push, or no answer in time (markFailed)
 *   Failed  → Pending              a retry, holding its seats again (reopenFailed)
 *   Failed  → Paid                 a success that came late (markPaid from 'Failed'): the money was taken
 *   Paid    → Paid, refund owed    a second payment, or a late one whose seats were gone (flagForRefund / markPaid)
 *   Paid, refund owed → refunded   an operator gave the money back by hand (markRefunded)
 *   Paid → refunded                an M-Pesa reversal of its payment succeeded (markReversed): it stops holding
 *                                  seats and owing a refund; it stays Paid, because the payment happened
 * A Paid ticket never goes back to Pending or Failed. A receipt number is recorded on one ticket at most: the database
 * refuses a second (unique index), and apply-result checks first so that a second claim is a 'mismatch', not an error.
 * At the door (`admit`, below): Paid, money kept, this show, admitted + n <= quantity → admitted + n.
 * The ticket code is written with the row and never changes; pages show it only while Paid.
 *
 * The rules:
 * - Every transition is ONE conditional UPDATE whose WHERE names the state it leaves. A repeat, or a concurrent
 *   duplicate, finds nothing to change and gets `false`: callers act only on `true`.
 * - Inside a transaction, rows are locked in one order everywhere: inbox row → ticket → push attempt → movie, so
 *   concurrent results queue up instead of deadlocking. `lockTicket` takes the ticket's lock (FOR UPDATE on MySQL;
 *   on SQLite the transaction already holds the database's only write lock: see core/db/database.ts).
 * - A ticket's seats are counted in movie.ticketsHeld exactly while holdsTickets = 1; the caller changes both in the
 *   same transaction (store/movie.repository.ts holds and releases).
 */

/** A ticket with the movie fields its pages and JSON show. */
export type TicketWithMovie = Ticket & { movieTitle: string; showTime: string };

/**
 * Writes a Pending ticket with a code from `newCode`. The code's uniqueness is the database's (a unique index): on
 * the rare collision (40 random bits) the insert is tried again with a new code. A refused statement leaves the
 * transaction usable on both engines, so the caller's transaction goes on.
 */
export async function insertPendingTicket(
  tx: Executor,
  ticket: Omit<NewTicket, 'paymentStatus' | 'holdsTickets' | 'ticketCode'>,
  newCode: () => string,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await tx.insertInto('ticket')
        .values({ ...ticket, ticketCode: newCode(), paymentStatus: 'Pending', holdsTickets: 1 })
        .executeTakeFirstOrThrow();
      return insertedId(r);
    } catch (err) {
      if (!isDuplicateKey(err) || attempt >= 5) throw err;
    }
  }
}

export async function findTicket(db: Executor, ticketId: number): Promise<Ticket | undefined> {
  return db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).executeTakeFirst();
}

/** The ticket, locked until the transaction ends. */
export async function lockTicket(tx: Executor, ticketId: number): Promise<Ticket | undefined> {
  return tx.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).forUpdate().executeTakeFirst();
}

/** The ticket with its movie's title and show time, by one of its unique columns (written once for both lookups). */
function ticketWithMovie(db: Executor, column: 'ticket.ref' | 'ticket.ticketCode', value: string): Promise<TicketWithMovie | undefined> {
  return db
    .selectFrom('ticket')
    .innerJoin('movie', 'movie.movieId', 'ticket.movieId')
    .selectAll('ticket')
    .select(['movie.title as movieTitle', 'movie.showTime as showTime'])
    .where(column, '=', value)
    .executeTakeFirst();
}

export async function findTicketByRef(db: Executor, ref: string): Promise<TicketWithMovie | undefined> {
  return ticketWithMovie(db, 'ticket.ref', ref);
}

/** The reference of the Paid ticket with this phone (254…) and code, if one matches both. */
export async function findPaidRefByPhoneAndCode(db: Executor, phoneNumber: string, ticketCode: string): Promise<string | undefined> {
  const r = await db.selectFrom('ticket').select('ref')
    .where('ticketCode', '=', ticketCode).where('phoneNumber', '=', phoneNumber).where('paymentStatus', '=', 'Paid')
    .executeTakeFirst();
  return r?.ref;
}

export async function findTicketIdByRef(db: Executor, ref: string): Promise<number | undefined> {
  const r = await db.selectFrom('ticket').select('ticketId').where('ref', '=', ref).executeTakeFirst();
  return r?.ticketId;
}

/** The ticket that recorded this M-Pesa receipt, if any (at most one: a unique index, migrations/009). */
export async function ticketIdWithReceipt(db: Executor, receipt: string): Promise<number | undefined> {
  const r = await db.selectFrom('ticket').select('ticketId').where('mpesaReceiptNumber', '=', receipt).executeTakeFirst();
  return r?.ticketId;
}

/** Pending or Failed → Paid. `holdsTickets` and `needsRefund` say whether its seats could be counted. */
export async function markPaid(
  tx: Executor,
  ticketId: number,
  from: 'Pending' | 'Failed',
  p: {
    mpesaReceiptNumber: string | null; transactionDate: Date; confirmedBy: ConfirmedBy;
    holdsTickets: 0 | 1; needsRefund: 0 | 1; now: Date;
  },
): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({
      paymentStatus: 'Paid', mpesaReceiptNumber: fit(p.mpesaReceiptNumber, 20), transactionDate: toDbTime(p.transactionDate),
      resultCode: '0', failureReason: null, confirmedBy: p.confirmedBy,
      holdsTickets: p.holdsTickets, needsRefund: p.needsRefund, nextCheckAt: null, updatedAt: toDbTime(p.now),
    })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', from)
    .executeTakeFirst();
  return changed(r);
}

/** Pending → Failed; the ticket stops holding seats (the caller releases them in the same transaction). */
export async function markFailed(
  tx: Executor,
  ticketId: number,
  p: { resultCode: string | null; failureReason: string; now: Date },
): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({
      paymentStatus: 'Failed',
      resultCode: fit(p.resultCode, 20),
      failureReason: fit(p.failureReason, 255),
      holdsTickets: 0,
      nextCheckAt: null,
      updatedAt: toDbTime(p.now),
    })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Pending')
    .executeTakeFirst();
  return changed(r);
}

/**
 * Failed → Pending for a new push, holding its seats again (the caller holds them in the same transaction).
 * Conditional on Failed, so two retries at once reopen it only once.
 */
export async function reopenFailed(tx: Executor, ticketId: number, at: { now: Date; nextCheckAt: Date }): Promise<boolean> {
  const now = toDbTime(at.now);
  const r = await tx
    .updateTable('ticket')
    .set({
      paymentStatus: 'Pending',
      holdsTickets: 1,
      failureReason: null,
      resultCode: null,
      confirmedBy: null,
      pendingSince: now,
      nextCheckAt: toDbTime(at.nextCheckAt),
      updatedAt: now,
    })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Failed')
    .where('holdsTickets', '=', 0)
    .executeTakeFirst();
  return changed(r);
}

/** A second, different payment for a Paid ticket: it stays Paid and is flagged so an operator refunds the extra. */
export async function flagForRefund(tx: Executor, ticketId: number, now: Date): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({ needsRefund: 1, updatedAt: toDbTime(now) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid')
    .executeTakeFirst();
  return changed(r);
}

/** The callback of a payment first confirmed by STK Query (which carries no receipt) fills the receipt in. */
export async function addReceipt(tx: Executor, ticketId: number, receipt: string, transactionDate: Date, now: Date): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({ mpesaReceiptNumber: fit(receipt, 20), transactionDate: toDbTime(transactionDate), updatedAt: toDbTime(now) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid')
    .where('mpesaReceiptNumber', 'is', null)
    .executeTakeFirst();
  return changed(r);
}

/** Paid with a refund owed → refunded by hand, once, and never while an M-Pesa reversal is in flight or done. */
export async function markRefunded(tx: Executor, ticketId: number, at: Date): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({ refundedAt: toDbTime(at), updatedAt: toDbTime(at) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid').where('needsRefund', '=', 1).where('refundedAt', 'is', null).where(noActiveRefund)
    .executeTakeFirst();
  return changed(r);
}

/**
 * Paid → refunded by an M-Pesa reversal (store/refund.repository.ts decides that it happened): refundedAt set once,
 * no refund owed any more, and no seats held (the caller releases them in the same transaction when `heldTickets`).
 */
export async function markReversed(tx: Executor, ticketId: number, at: Date): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set({ refundedAt: toDbTime(at), needsRefund: 0, holdsTickets: 0, updatedAt: toDbTime(at) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid').where('refundedAt', 'is', null)
    .executeTakeFirst();
  return changed(r);
}

// ── the door ────────────────────────────────────────────────────────────────────────────────────────────────────
// A ticket lets people in while it is Paid and its money is not being given back. `admitted` only grows, by ONE
// conditional UPDATE per admission, so doors admitting the same ticket at the same moment never let in more people
// than it has seats: the database applies one UPDATE after the other and the second sees the first's count.

/**
 * Paid money that stays paid: not refunded, no refund owed, and no M-Pesa reversal in flight or done (a refund row
 * holding the ticket in activeTicketId: requested, accepted, unknown or refunded; see store/refund.repository.ts).
 * The one place the door's refund condition is written.
 */
export const keepsItsMoney = (eb: ExpressionBuilder<Database, 'ticket'>) =>
  eb.and([eb('ticket.needsRefund', '=', 0), eb('ticket.refundedAt', 'is', null), noActiveRefund(eb)]);

/** No M-Pesa reversal of the ticket is requested, accepted, unknown or refunded (no refund row holds it). */
function noActiveRefund(eb: ExpressionBuilder<Database, 'ticket'>) {
  return eb.not(eb.exists(eb.selectFrom('refund').select('refund.refundId').whereRef('refund.activeTicketId', '=', 'ticket.ticketId')));
}

/** A ticket by its code, with its movie. */
export async function findTicketByCode(db: Executor, ticketCode: string): Promise<TicketWithMovie | undefined> {
  return ticketWithMovie(db, 'ticket.ticketCode', ticketCode);
}

/** Lets `n` more people in on a Paid ticket for this show that keeps its money and has `n` seats left. False otherwise. */
export async function admit(
  tx: Executor,
  p: { ticketId: number; movieId: number; n: number; by: string; now: Date },
): Promise<boolean> {
  const r = await tx
    .updateTable('ticket')
    .set((eb) => ({
      admitted: eb('admitted', '+', p.n),
      lastAdmittedAt: toDbTime(p.now),
      lastAdmittedBy: fit(p.by, 100),
      updatedAt: toDbTime(p.now),
    }))
    .where('ticketId', '=', p.ticketId)
    .where('movieId', '=', p.movieId)
    .where('paymentStatus', '=', 'Paid')
    .where(keepsItsMoney)
    .where((eb) => eb(eb('admitted', '+', p.n), '<=', eb.ref('quantity')))
    .executeTakeFirst();
  return changed(r);
}

// ── the reconciler's schedule ───────────────────────────────────────────────────────────────────────────────────
// A Pending ticket is due for an STK Query at nextCheckAt. Booking and retry set it PAYMENT_TIMEOUT_SECONDS after
// pendingSince; a claim moves it one interval on, so each ticket is queried at most once per interval by all the
// instances together; Paid and Failed clear it.

/** Pending tickets without a nextCheckAt get one, `timeoutMs` after they became Pending. Returns how many. */
export async function scheduleFirstChecks(db: Executor, timeoutMs: number, limit: number): Promise<number> {
  const rows = await db
    .selectFrom('ticket')
    .select(['ticketId', 'pendingSince'])
    .where('paymentStatus', '=', 'Pending')
    .where('nextCheckAt', 'is', null)
    .limit(limit)
    .execute();
  let n = 0;
  for (const r of rows) {
    const due = new Date(fromDbTime(r.pendingSince).getTime() + timeoutMs);
    const u = await db
      .updateTable('ticket')
      .set({ nextCheckAt: toDbTime(due) })
      .where('ticketId', '=', r.ticketId)
      .where('paymentStatus', '=', 'Pending')
      .where('nextCheckAt', 'is', null)
      .executeTakeFirst();
    if (changed(u)) n++;
  }
  return n;
}

/**
 * Claims up to `limit` Pending tickets due at `now` by moving their nextCheckAt to `next`. Run it inside a
 * transaction: on MySQL rows another instance is claiming are skipped (SKIP LOCKED), not waited for; on SQLite the
 * transaction's write lock makes the whole claim exclusive.
 */
export async function claimDueTickets(tx: Executor, now: Date, next: Date, limit: number): Promise<number[]> {
  const rows = await tx
    .selectFrom('ticket')
    .select('ticketId')
    .where('paymentStatus', '=', 'Pending')
    .where('nextCheckAt', '<=', toDbTime(now))
    .orderBy('nextCheckAt')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  const ids = rows.map((r) => r.ticketId);
  if (ids.length > 0) await tx.updateTable('ticket').set({ nextCheckAt: toDbTime(next) }).where('ticketId', 'in', ids).execute();
  return ids;
}

// ── the inbox applier's hot path (prepared statements, core/db/fast.ts) ───────────────────────────────────────────

const PAID_FROM_PENDING_SQL = `UPDATE ticket SET paymentStatus = 'Paid', mpesaReceiptNumber = ?, transactionDate = ?, resultCode = '0',
  failureReason = NULL, confirmedBy = ?, needsRefund = 0, nextCheckAt = NULL, updatedAt = ?
  WHERE ticketId = ? AND paymentStatus = 'Pending' AND holdsTickets = 1`;

/** Pending (holding its seats) → Paid, as markPaid does, in one prepared statement. False when it had left that state. */
export async function markPendingPaid(
  c: FastConnection, ticketId: number, p: { mpesaReceiptNumber: string | null; transactionDate: Date; confirmedBy: ConfirmedBy; now: Date },
): Promise<boolean> {
  const r = await c.exec(PAID_FROM_PENDING_SQL, [fit(p.mpesaReceiptNumber, 20), toDbTime(p.transactionDate), p.confirmedBy, toDbTime(p.now), ticketId]);
  return r.changes > 0;
}

const FAILED_FROM_PENDING_SQL = `UPDATE ticket SET paymentStatus = 'Failed', resultCode = ?, failureReason = ?, holdsTickets = 0,
  nextCheckAt = NULL, updatedAt = ? WHERE ticketId = ? AND paymentStatus = 'Pending' AND holdsTickets = ?`;

/**
 * Pending → Failed, as markFailed does, in one prepared statement, conditional also on the holdsTickets the caller
 * read (it releases that many seats in the same transaction). False when the ticket had left that state.
 */
export async function markPendingFailed(
  c: FastConnection, ticketId: number, p: { resultCode: string; failureReason: string; holdsTickets: number; now: Date },
): Promise<boolean> {
  const r = await c.exec(FAILED_FROM_PENDING_SQL, [fit(p.resultCode, 20), fit(p.failureReason, 255), toDbTime(p.now), ticketId, p.holdsTickets]);
  return r.changes > 0;
}
