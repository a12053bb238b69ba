import type { FastConnection, FastSql } from '../core/db/fast.js';
import type { Executor } from '../core/db/transaction.js';
import type { PushRequest, Ticket } from '../core/db/schema.js';
import { changed, fit, insertedId } from '../core/db/rows.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The pushrequest table's one owner: one row per STK push attempt, recorded BEFORE the push is sent, so a push whose
 * answer never came is still known (and a callback for it can be matched by phone and amount).
 *
 * The state machine:
 *   Sending → Accepted   Daraja acknowledged it and gave its CheckoutRequestID (markAccepted)
 *   Sending → Refused    Daraja said no: nothing reached the phone (markAnsweredWithError)
 *   Sending → Unknown    no readable answer: the prompt may still reach the phone (markAnsweredWithError)
 *   Unknown → Accepted   the answer came after all
 *   any but Completed → Completed   the final result, from a callback or a query (complete), once
 * Each transition is a conditional UPDATE naming the states it leaves, like the ticket's (store/ticket.repository.ts).
 * An attempt's CheckoutRequestID is set once (storeCheckoutId) and is unique across attempts (a unique index).
 */

export async function insertPushRequest(db: Executor, p: { ticketId: number; phoneNumber: string; amount: number; now: Date }): Promise<number> {
  const r = await db
    .insertInto('pushrequest')
    .values({
      ticketId: p.ticketId,
      checkoutRequestId: null,
      merchantRequestId: null,
      phoneNumber: p.phoneNumber,
      amount: p.amount,
      status: 'Sending',
      resultCode: null,
      resultDesc: null,
      errorCode: null,
      errorMessage: null,
      createdAt: toDbTime(p.now),
      answeredAt: null,
      completedAt: null,
    })
    .executeTakeFirstOrThrow();
  return insertedId(r);
}

/**
 * An attempt we have no record of (its id is only in a callback an operator matched to the ticket): recorded so the
 * result has a home.
 */
export async function insertOperatorAttempt(tx: Executor, ticket: Ticket, checkoutRequestId: string, now: Date): Promise<number> {
  const at = toDbTime(now);
  const r = await tx
    .insertInto('pushrequest')
    .values({
      ticketId: ticket.ticketId, checkoutRequestId, merchantRequestId: null, phoneNumber: ticket.phoneNumber,
      amount: ticket.totalAmount, status: 'Accepted', resultCode: null, resultDesc: null, errorCode: null,
      errorMessage: 'recorded by an operator matching a callback', createdAt: at, answeredAt: at, completedAt: null,
    })
    .executeTakeFirstOrThrow();
  return insertedId(r);
}

export async function findPush(db: Executor, pushRequestId: number): Promise<PushRequest | undefined> {
  return db.selectFrom('pushrequest').selectAll().where('pushRequestId', '=', pushRequestId).executeTakeFirst();
}

/** The attempt, locked until the transaction ends (after its ticket: see the lock order in ticket.repository.ts). */
export async function lockPush(tx: Executor, pushRequestId: number): Promise<PushRequest | undefined> {
  return tx.selectFrom('pushrequest').selectAll().where('pushRequestId', '=', pushRequestId).forUpdate().executeTakeFirst();
}

export async function findPushByCheckoutId(db: Executor, checkoutRequestId: string): Promise<PushRequest | undefined> {
  return db.selectFrom('pushrequest').selectAll().where('checkoutRequestId', '=', checkoutRequestId).executeTakeFirst();
}

export async function pushesForTicket(db: Executor, ticketId: number): Promise<PushRequest[]> {
  return db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticketId).orderBy('pushRequestId').execute();
}

/** The ticket's newest attempt: only its failure may fail the ticket (an older one's means a retry is in flight). */
export async function latestPushId(db: Executor, ticketId: number): Promise<number | undefined> {
  const r = await db
    .selectFrom('pushrequest')
    .select('pushRequestId')
    .where('ticketId', '=', ticketId)
    .orderBy('pushRequestId', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r?.pushRequestId;
}

/** Attempts sent without an answer (Sending, Unknown) for this phone and amount since `since`: candidates for a callback with an unknown id. */
export async function findUnansweredPushes(db: Executor, phoneNumber: string, amount: number, since: Date): Promise<PushRequest[]> {
  return db
    .selectFrom('pushrequest')
    .selectAll()
    .where('phoneNumber', '=', phoneNumber)
    .where('amount', '=', amount)
    .where('createdAt', '>=', toDbTime(since))
    .where('status', 'in', ['Sending', 'Unknown'])
    .where('checkoutRequestId', 'is', null)
    .limit(2)
    .execute();
}

/** The attempt Daraja should be asked about: the newest one with a CheckoutRequestID that has no final result yet. */
export async function latestOpenPushWithId(db: Executor, ticketId: number): Promise<PushRequest | undefined> {
  return db
    .selectFrom('pushrequest')
    .selectAll()
    .where('ticketId', '=', ticketId)
    .where('checkoutRequestId', 'is not', null)
    .where('status', '!=', 'Completed')
    .orderBy('pushRequestId', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The ticket's newest attempt with no CheckoutRequestID and no result yet (the one an operator's match is for), locked. */
export async function lockFreeAttempt(tx: Executor, ticketId: number): Promise<PushRequest | undefined> {
  return tx
    .selectFrom('pushrequest')
    .selectAll()
    .where('ticketId', '=', ticketId)
    .where('checkoutRequestId', 'is', null)
    .where('status', '!=', 'Completed')
    .orderBy('pushRequestId', 'desc')
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Stores Daraja's ids on an attempt that has none yet, or already has this one (a callback matched by phone and amount
 * may have stored it first). False when the attempt carries another id.
 */
export async function storeCheckoutId(
  db: Executor,
  pushRequestId: number,
  ids: { checkoutRequestId: string; merchantRequestId?: string | null },
): Promise<boolean> {
  const r = await db
    .updateTable('pushrequest')
    .set({
      checkoutRequestId: ids.checkoutRequestId,
      ...(ids.merchantRequestId !== undefined ? { merchantRequestId: fit(ids.merchantRequestId, 64) } : {}),
    })
    .where('pushRequestId', '=', pushRequestId)
    .where((eb) => eb.or([eb('checkoutRequestId', 'is', null), eb('checkoutRequestId', '=', ids.checkoutRequestId)]))
    .executeTakeFirst();
  return changed(r);
}

/** Sending/Unknown → Accepted once Daraja's acknowledgement is read; a result already recorded is left alone. */
export async function markAccepted(db: Executor, pushRequestId: number, merchantRequestId: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('pushrequest')
    .set({ status: 'Accepted', merchantRequestId: fit(merchantRequestId, 64), answeredAt: toDbTime(now) })
    .where('pushRequestId', '=', pushRequestId)
    .where('status', 'in', ['Sending', 'Unknown'])
    .executeTakeFirst();
  return changed(r);
}

/** Sending → Refused or Unknown, with what Daraja (or the network) said. */
export async function markAnsweredWithError(
  db: Executor,
  pushRequestId: number,
  status: 'Refused' | 'Unknown',
  p: { errorCode: string | null; errorMessage: string | null; now: Date },
): Promise<boolean> {
  const r = await db
    .updateTable('pushrequest')
    .set({ status, errorCode: fit(p.errorCode, 32), errorMessage: fit(p.errorMessage, 255), answeredAt: toDbTime(p.now) })
    .where('pushRequestId', '=', pushRequestId)
    .where('status', '=', 'Sending')
    .executeTakeFirst();
  return changed(r);
}

/** Records the final result on an attempt, once. False when it already had one. */
export async function complete(
  tx: Executor,
  pushRequestId: number,
  p: { resultCode: string; resultDesc: string; now: Date },
): Promise<boolean> {
  const r = await tx
    .updateTable('pushrequest')
    .set({ status: 'Completed', resultCode: fit(p.resultCode, 20), resultDesc: fit(p.resultDesc, 255), completedAt: toDbTime(p.now) })
    .where('pushRequestId', '=', pushRequestId)
    .where('status', '!=', 'Completed')
    .executeTakeFirst();
  return changed(r);
}

// ── the inbox applier's hot path (prepared statements, core/db/fast.ts) ───────────────────────────────────────────

/** What applying a result to an attempt needs to know about it and its ticket, in one read. */
export interface AttemptWithTicket {
  pushRequestId: number;
  pushStatus: string;
  ticketId: number;
  paymentStatus: string;
  holdsTickets: number;
  needsRefund: number;
  totalAmount: number;
  phoneNumber: string;
  email: string | null;
  movieId: number;
  quantity: number;
  /** The ticket's newest attempt: a failure of an older one does not fail the ticket. */
  latestPushRequestId: number;
}

export const ATTEMPT_WITH_TICKET_SQL = `SELECT p.pushRequestId, p.status AS pushStatus, t.ticketId, t.paymentStatus, t.holdsTickets, t.needsRefund,
  t.totalAmount, t.phoneNumber, t.email, t.movieId, t.quantity,
  (SELECT MAX(l.pushRequestId) FROM pushrequest l WHERE l.ticketId = t.ticketId) AS latestPushRequestId
  FROM pushrequest p JOIN ticket t ON t.ticketId = p.ticketId WHERE p.checkoutRequestId = ?`;

const manyAttemptsSql: string[] = [];
/** The same read for up to 64 CheckoutRequestIDs at once (the applier's batch), one text per count, built once. */
export async function findAttemptsWithTickets(fast: FastSql, checkoutRequestIds: readonly string[]): Promise<Map<string, AttemptWithTicket>> {
  const found = new Map<string, AttemptWithTicket>();
  if (checkoutRequestIds.length === 0) return found;
  const n = checkoutRequestIds.length;
  const text = (manyAttemptsSql[n] ??= ATTEMPT_WITH_TICKET_SQL.replace('p.checkoutRequestId = ?', `p.checkoutRequestId IN (${Array(n).fill('?').join(', ')})`)
    .replace('SELECT p.pushRequestId', 'SELECT p.checkoutRequestId, p.pushRequestId'));
  const rows = await fast.run((c) => c.all<AttemptWithTicket & { checkoutRequestId: string }>(text, checkoutRequestIds));
  for (const r of rows) found.set(r.checkoutRequestId, normalise(r));
  return found;
}

const normalise = (r: AttemptWithTicket): AttemptWithTicket =>
  ({ ...r, holdsTickets: Number(r.holdsTickets), needsRefund: Number(r.needsRefund), latestPushRequestId: Number(r.latestPushRequestId) });

/** The attempt carrying this CheckoutRequestID with its ticket (unlocked: the applying updates are conditional). */
export async function findAttemptWithTicket(fast: FastSql, checkoutRequestId: string): Promise<AttemptWithTicket | undefined> {
  const rows = await fast.run((c) => c.all<AttemptWithTicket>(ATTEMPT_WITH_TICKET_SQL, [checkoutRequestId]));
  const r = rows[0];
  return r && normalise(r);
}

const COMPLETE_SQL =
  'UPDATE pushrequest SET status = \'Completed\', resultCode = ?, resultDesc = ?, completedAt = ? WHERE pushRequestId = ? AND status <> \'Completed\'';

/** complete(), as a prepared statement inside a fast transaction. */
export async function completeAttempt(c: FastConnection, pushRequestId: number, p: { resultCode: string; resultDesc: string; now: Date }): Promise<boolean> {
  const r = await c.exec(COMPLETE_SQL, [fit(p.resultCode, 20), fit(p.resultDesc, 255), toDbTime(p.now), pushRequestId]);
  return r.changes > 0;
}
