import { randomBytes } from 'node:crypto';
import type { Db } from '../../../src/core/db/database.js';
import type { CallbackInboxRow, PushStatus, Ticket } from '../../../src/core/db/schema.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { holdTickets, insertMovie } from '../../../src/store/movie.repository.js';

export const TOKEN = 'cbtok_0123456789abcdef0123456789abcdef';
/** 20:12:01 on 14 May 2025 in Nairobi is 17:12:01 UTC. */
export const NAIROBI_TRANSACTION_DATE = 20250514201201;
export const TRANSACTION_DATE_UTC = '2025-05-14 17:12:01.000';

export const newCheckoutId = () => `ws_CO_${randomBytes(10).toString('hex')}`;

/** A distinct Safaricom-looking number per call, so phone+amount matching never sees another test's attempts. */
let phoneSeq = 0;
export function uniquePhone(): string {
  phoneSeq = (phoneSeq + 1) % 1000;
  return `2547${String(Date.now() % 100000).padStart(5, '0')}${String(phoneSeq).padStart(3, '0')}`;
}

export interface PendingTicket {
  movieId: number;
  ticketId: number;
  phone: string;
  totalAmount: number;
  quantity: number;
  pushRequestId?: number;
  checkoutRequestId?: string;
}

/**
 * A movie of its own and a Pending ticket holding its tickets, as POST /bookings leaves it, with (by default) one
 * push attempt Daraja accepted. Built directly so these tests do not depend on the bookings side.
 */
export async function insertPendingTicket(
  db: Db,
  opts: {
    phone?: string;
    quantity?: number;
    price?: number;
    maximumTickets?: number;
    email?: string | null;
    pendingSince?: Date;
    nextCheckAt?: Date | null;
    /** false: no attempt yet. */
    push?: false | { status?: PushStatus; checkoutRequestId?: string | null; createdAt?: Date };
    timeoutSeconds?: number;
  } = {},
): Promise<PendingTicket> {
  const now = new Date();
  const quantity = opts.quantity ?? 3;
  const price = opts.price ?? 15;
  const phone = opts.phone ?? uniquePhone();
  const movieId = await insertMovie(db, {
    title: `Payments test ${randomBytes(3).toString('hex')}`,
    description: '',
    showTime: toDbTime(new Date(now.getTime() + 86_400_000)),
    price,
    maximumTickets: opts.maximumTickets ?? 10,
    imageUrl: null,
  });
  if (!(await holdTickets(db, movieId, quantity))) throw new Error('test movie too small');
  const pendingSince = opts.pendingSince ?? now;
  const nextCheckAt = opts.nextCheckAt === undefined
    ? new Date(pendingSince.getTime() + (opts.timeoutSeconds ?? 120) * 1000)
    : opts.nextCheckAt;
  const r = await db
    .insertInto('ticket')
    .values({
      ref: randomBytes(18).toString('base64url'),
      movieId,
      customerName: 'Wanjiru Test',
      phoneNumber: phone,
      email: opts.email === undefined ? null : opts.email,
      quantity,
      totalAmount: quantity * price,
      paymentStatus: 'Pending',
      holdsTickets: 1,
      mpesaReceiptNumber: null,
      transactionDate: null,
      resultCode: null,
      failureReason: null,
      confirmedBy: null,
      needsRefund: 0,
      refundedAt: null,
      pendingSince: toDbTime(pendingSince),
      nextCheckAt: nextCheckAt === null ? null : toDbTime(nextCheckAt),
      createdAt: toDbTime(pendingSince),
      updatedAt: toDbTime(pendingSince),
    })
    .executeTakeFirstOrThrow();
  const ticketId = Number(r.insertId);
  const result: PendingTicket = { movieId, ticketId, phone, totalAmount: quantity * price, quantity };
  if (opts.push !== false) {
    const p = opts.push ?? {};
    const status = p.status ?? 'Accepted';
    const checkoutRequestId = p.checkoutRequestId === undefined ? (status === 'Sending' || status === 'Unknown' ? null : newCheckoutId()) : p.checkoutRequestId;
    result.pushRequestId = await insertAttempt(db, { ticketId, phone, amount: quantity * price, status, checkoutRequestId, createdAt: p.createdAt ?? pendingSince });
    if (checkoutRequestId) result.checkoutRequestId = checkoutRequestId;
  }
  return result;
}

export async function insertAttempt(
  db: Db,
  a: { ticketId: number; phone: string; amount: number; status: PushStatus; checkoutRequestId: string | null; createdAt?: Date },
): Promise<number> {
  const at = toDbTime(a.createdAt ?? new Date());
  const r = await db
    .insertInto('pushrequest')
    .values({
      ticketId: a.ticketId,
      checkoutRequestId: a.checkoutRequestId,
      merchantRequestId: a.checkoutRequestId ? '29115-34620561-1' : null,
      phoneNumber: a.phone,
      amount: a.amount,
      status: a.status,
      resultCode: null,
      resultDesc: null,
      errorCode: null,
      errorMessage: null,
      createdAt: at,
      answeredAt: a.status === 'Sending' ? null : at,
      completedAt: null,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export function successCallback(p: {
  checkoutRequestId: string;
  amount: number;
  phone: string | number;
  receipt?: string;
  transactionDate?: number | string;
}): Record<string, unknown> {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1',
        CheckoutRequestID: p.checkoutRequestId,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: p.amount },
            { Name: 'MpesaReceiptNumber', Value: p.receipt ?? newReceipt() },
            { Name: 'Balance' },
            { Name: 'TransactionDate', Value: p.transactionDate ?? NAIROBI_TRANSACTION_DATE },
            { Name: 'PhoneNumber', Value: typeof p.phone === 'string' ? Number(p.phone) : p.phone },
          ],
        },
      },
    },
  };
}

export function failureCallback(p: { checkoutRequestId: string; resultCode: number | string; resultDesc: string }): Record<string, unknown> {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1',
        CheckoutRequestID: p.checkoutRequestId,
        ResultCode: p.resultCode,
        ResultDesc: p.resultDesc,
      },
    },
  };
}

export function newReceipt(): string {
  return `T${randomBytes(5).toString('hex').toUpperCase().slice(0, 9)}`;
}

export async function ticketRow(db: Db, ticketId: number): Promise<Ticket> {
  return db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).executeTakeFirstOrThrow();
}

export async function ticketsHeld(db: Db, movieId: number): Promise<number> {
  const m = await db.selectFrom('movie').select('ticketsHeld').where('movieId', '=', movieId).executeTakeFirstOrThrow();
  return m.ticketsHeld;
}

export async function inboxRow(db: Db, callbackId: number): Promise<CallbackInboxRow> {
  return db.selectFrom('callbackinbox').selectAll().where('callbackId', '=', callbackId).executeTakeFirstOrThrow();
}

/** The newest inbox rows (callbackId desc), optionally only those about one CheckoutRequestID. */
export async function inboxRowsFor(db: Db, checkoutRequestId: string): Promise<CallbackInboxRow[]> {
  return db.selectFrom('callbackinbox').selectAll().where('checkoutRequestId', '=', checkoutRequestId).orderBy('callbackId').execute();
}

export async function lastInboxRow(db: Db): Promise<CallbackInboxRow> {
  return db.selectFrom('callbackinbox').selectAll().orderBy('callbackId', 'desc').limit(1).executeTakeFirstOrThrow();
}

export async function notificationKinds(db: Db, ticketId: number): Promise<string[]> {
  const rows = await db.selectFrom('notification').select('kind').where('ticketId', '=', ticketId).orderBy('notificationId').execute();
  return rows.map((r) => r.kind);
}

export async function pushRow(db: Db, pushRequestId: number) {
  return db.selectFrom('pushrequest').selectAll().where('pushRequestId', '=', pushRequestId).executeTakeFirstOrThrow();
}

/** Waits until `check` returns a truthy value (polling), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
