import { randomBytes } from 'node:crypto';
import type { Db } from '../../../src/core/db/database.js';
import type { CallbackInboxRow, PushStatus, Ticket } from '../../../src/core/db/schema.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { buildMovie, buildPush, buildTicket, newCheckoutId } from '../../support/builders.js';

export { newCheckoutId };

export const TOKEN = 'cbtok_0123456789abcdef0123456789abcdef';
/** 20:12:01 on 14 May 2025 in Nairobi is 17:12:01 UTC. */
export const NAIROBI_TRANSACTION_DATE = 20250514201201;
export const TRANSACTION_DATE_UTC = '2025-05-14 17:12:01.000';

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
  const maximumTickets = opts.maximumTickets ?? 10;
  if (quantity > maximumTickets) throw new Error('test movie too small');
  const movieId = await buildMovie(db, { price, maximumTickets, ticketsHeld: quantity, showTime: new Date(now.getTime() + 86_400_000) });
  const pendingSince = opts.pendingSince ?? now;
  const nextCheckAt = opts.nextCheckAt === undefined
    ? new Date(pendingSince.getTime() + (opts.timeoutSeconds ?? 120) * 1000)
    : opts.nextCheckAt;
  const { ticketId } = await buildTicket(db, {
    movieId,
    phoneNumber: phone,
    email: opts.email === undefined ? null : opts.email,
    quantity,
    totalAmount: quantity * price,
    paymentStatus: 'Pending',
    pendingSince: toDbTime(pendingSince),
    nextCheckAt: nextCheckAt === null ? null : toDbTime(nextCheckAt),
    createdAt: toDbTime(pendingSince),
  });
  const result: PendingTicket = { movieId, ticketId, phone, totalAmount: quantity * price, quantity };
  if (opts.push !== false) {
    const p = opts.push ?? {};
    const status = p.status ?? 'Accepted';
    const checkoutRequestId = p.checkoutRequestId === undefined ? (status === 'Sending' || status === 'Unknown' ? null : newCheckoutId()) : p.checkoutRequestId;
    result.pushRequestId = await buildPush(db, {
      ticketId, phoneNumber: phone, amount: quantity * price, status, checkoutRequestId, createdAt: toDbTime(p.createdAt ?? pendingSince),
    });
    if (checkoutRequestId) result.checkoutRequestId = checkoutRequestId;
  }
  return result;
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

/** The kinds of the messages queued for a ticket (its email or log line; a Paid ticket's SMS is a row of its own). */
export async function notificationKinds(db: Db, ticketId: number): Promise<string[]> {
  const rows = await db.selectFrom('notification').select('kind').where('ticketId', '=', ticketId).where('channel', '<>', 'sms')
    .orderBy('notificationId').execute();
  return rows.map((r) => r.kind);
}

export async function pushRow(db: Db, pushRequestId: number) {
  return db.selectFrom('pushrequest').selectAll().where('pushRequestId', '=', pushRequestId).executeTakeFirstOrThrow();
}
