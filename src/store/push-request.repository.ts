import type { Db } from '../core/db/database.js';
import type {
  CallbackInboxRow, ConfirmedBy, InboxOutcome, InboxSource, PushRequest, Ticket,
} from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';
import type { Executor } from '../core/db/transaction.js';

// The payments SQL. Every state change is a conditional UPDATE whose WHERE names the state it leaves, so a repeat or
// a concurrent duplicate changes nothing (numUpdatedRows 0) and the caller can tell.

const changed = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) > 0;

/** Cuts a value to its column's width: MySQL in strict mode refuses longer text, and a refused row would be retried forever. */
export function fit(value: string | null | undefined, width: number): string | null {
  if (value === null || value === undefined) return null;
  return value.length > width ? value.slice(0, width) : value;
}

// ── tickets ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** The ticket, locked for this transaction on MySQL (SQLite's BEGIN IMMEDIATE already holds the only write lock). */
export async function findTicket(db: Executor, ticketId: number, lock: boolean): Promise<Ticket | undefined> {
  let q = db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function markTicketPaid(
  db: Executor,
  ticketId: number,
  from: 'Pending' | 'Failed',
  p: {
    mpesaReceiptNumber: string | null; transactionDate: Date; confirmedBy: ConfirmedBy;
    holdsTickets: 0 | 1; needsRefund: 0 | 1; now: Date;
  },
): Promise<boolean> {
  const r = await db
    .updateTable('ticket')
    .set({
      paymentStatus: 'Paid',
      mpesaReceiptNumber: fit(p.mpesaReceiptNumber, 20),
      transactionDate: toDbTime(p.transactionDate),
      resultCode: '0',
      failureReason: null,
      confirmedBy: p.confirmedBy,
      holdsTickets: p.holdsTickets,
      needsRefund: p.needsRefund,
      nextCheckAt: null,
      updatedAt: toDbTime(p.now),
    })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', from)
    .executeTakeFirst();
  return changed(r);
}

export async function markTicketFailed(
  db: Executor,
  ticketId: number,
  p: { resultCode: string | null; failureReason: string; now: Date },
): Promise<boolean> {
  const r = await db
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

/** A second, different payment for a Paid ticket: it stays Paid and is flagged so an operator refunds the extra. */
export async function flagForRefund(db: Executor, ticketId: number, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('ticket')
    .set({ needsRefund: 1, updatedAt: toDbTime(now) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid')
    .executeTakeFirst();
  return changed(r);
}

/** The callback of a payment first confirmed by STK Query (which carries no receipt) fills the receipt in. */
export async function addReceipt(db: Executor, ticketId: number, receipt: string, transactionDate: Date, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('ticket')
    .set({ mpesaReceiptNumber: fit(receipt, 20), transactionDate: toDbTime(transactionDate), updatedAt: toDbTime(now) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid')
    .where('mpesaReceiptNumber', 'is', null)
    .executeTakeFirst();
  return changed(r);
}

// ── push attempts ───────────────────────────────────────────────────────────────────────────────────────────────

export async function insertPushRequest(db: Db, p: { ticketId: number; phoneNumber: string; amount: number; now: Date }): Promise<number> {
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
  return Number(r.insertId);
}

export async function findPush(db: Executor, pushRequestId: number, lock = false): Promise<PushRequest | undefined> {
  let q = db.selectFrom('pushrequest').selectAll().where('pushRequestId', '=', pushRequestId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function findPushByCheckoutId(db: Executor, checkoutRequestId: string): Promise<PushRequest | undefined> {
  return db.selectFrom('pushrequest').selectAll().where('checkoutRequestId', '=', checkoutRequestId).executeTakeFirst();
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
export async function markPushAccepted(db: Executor, pushRequestId: number, merchantRequestId: string, now: Date): Promise<void> {
  await db
    .updateTable('pushrequest')
    .set({ status: 'Accepted', merchantRequestId: fit(merchantRequestId, 64), answeredAt: toDbTime(now) })
    .where('pushRequestId', '=', pushRequestId)
    .where('status', 'in', ['Sending', 'Unknown'])
    .execute();
}

export async function markPushAnsweredWithError(
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

/** Records the final result on an attempt, once. */
export async function completePush(
  db: Executor,
  pushRequestId: number,
  p: { resultCode: string; resultDesc: string; now: Date },
): Promise<boolean> {
  const r = await db
    .updateTable('pushrequest')
    .set({ status: 'Completed', resultCode: fit(p.resultCode, 20), resultDesc: fit(p.resultDesc, 255), completedAt: toDbTime(p.now) })
    .where('pushRequestId', '=', pushRequestId)
    .where('status', '!=', 'Completed')
    .executeTakeFirst();
  return changed(r);
}

// ── the callback inbox ──────────────────────────────────────────────────────────────────────────────────────────

export async function insertInboxRow(
  db: Executor,
  row: { source: InboxSource; sourceIp: string | null; body: string; outcome: 'received' | 'rejected' | 'invalid'; detail: string | null; checkoutRequestId?: string | null; ticketId?: number | null; now: Date },
): Promise<number> {
  const at = toDbTime(row.now);
  const r = await db
    .insertInto('callbackinbox')
    .values({
      receivedAt: at,
      source: row.source,
      sourceIp: fit(row.sourceIp, 64),
      body: row.body,
      checkoutRequestId: fit(row.checkoutRequestId ?? null, 64),
      outcome: row.outcome,
      detail: fit(row.detail, 255),
      ticketId: row.ticketId ?? null,
      processedAt: row.outcome === 'received' ? null : at,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function findInboxRow(db: Executor, callbackId: number): Promise<CallbackInboxRow | undefined> {
  return db.selectFrom('callbackinbox').selectAll().where('callbackId', '=', callbackId).executeTakeFirst();
}

/**
 * Takes an inbox row for processing: succeeds only while it still has the outcome the caller read, so two processors
 * (the route and the reconciler's crash recovery, or two instances) never both apply it. Inside a transaction this
 * also locks the row until commit.
 */
export async function claimInboxRow(db: Executor, callbackId: number, expected: InboxOutcome, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('callbackinbox')
    .set({ processedAt: toDbTime(now) })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', expected)
    .executeTakeFirst();
  return changed(r);
}

export async function finishInboxRow(
  db: Executor,
  callbackId: number,
  expected: InboxOutcome,
  p: { outcome: InboxOutcome; detail: string | null; ticketId?: number | null; checkoutRequestId?: string | null; now: Date },
): Promise<boolean> {
  const r = await db
    .updateTable('callbackinbox')
    .set({
      outcome: p.outcome,
      detail: fit(p.detail, 255),
      processedAt: toDbTime(p.now),
      ...(p.ticketId !== undefined ? { ticketId: p.ticketId } : {}),
      ...(p.checkoutRequestId !== undefined ? { checkoutRequestId: fit(p.checkoutRequestId, 64) } : {}),
    })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', expected)
    .executeTakeFirst();
  return changed(r);
}

/** Rows a crash left 'received' (inserted, never processed). */
export async function inboxRowsLeftReceived(db: Db, before: Date, limit: number): Promise<CallbackInboxRow[]> {
  return db
    .selectFrom('callbackinbox')
    .selectAll()
    .where('outcome', '=', 'received')
    .where('receivedAt', '<=', toDbTime(before))
    .orderBy('callbackId')
    .limit(limit)
    .execute();
}

/** 'unmatched' rows whose CheckoutRequestID an attempt now carries (the callback beat the push's answer). */
export async function unmatchedRowsNowKnown(db: Db, limit: number, checkoutRequestId?: string): Promise<CallbackInboxRow[]> {
  let q = db
    .selectFrom('callbackinbox')
    .selectAll()
    .where('outcome', '=', 'unmatched')
    .where('checkoutRequestId', 'is not', null)
    .where((eb) =>
      eb.exists(
        eb.selectFrom('pushrequest').select('pushrequest.pushRequestId')
          .whereRef('pushrequest.checkoutRequestId', '=', 'callbackinbox.checkoutRequestId'),
      ),
    );
  if (checkoutRequestId !== undefined) q = q.where('checkoutRequestId', '=', checkoutRequestId);
  return q.orderBy('callbackId').limit(limit).execute();
}

export async function insertAudit(
  db: Executor,
  a: { actor: string; action: string; ticketId: number | null; callbackId: number | null; detail: string | null; now: Date },
): Promise<void> {
  await db
    .insertInto('auditlog')
    .values({ at: toDbTime(a.now), actor: fit(a.actor, 100)!, action: a.action, ticketId: a.ticketId, callbackId: a.callbackId, detail: a.detail })
    .execute();
}
