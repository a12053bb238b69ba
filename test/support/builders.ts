import { randomBytes, randomInt } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Db } from '../../src/core/db/database.js';
import type {
  CallbackInboxTable, MovieTable, NotificationTable, PushRequestTable, TicketTable,
} from '../../src/core/db/schema.js';
import { toDbTime } from '../../src/core/db/time.js';
import { newTicketCode } from '../../src/bookings/ticket-code.js';

// Rows for a test, written straight to the database with Kysely (tests may; src goes through its repositories). Each
// builder takes overrides and fills the rest with data no other row in the run shares: titles, refs, phones and
// CheckoutRequestIDs are unique, so tests on one database never see each other's rows by accident.

let seq = 0;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** The overrides actually given: `{ title: undefined }` keeps the default title. */
const given = <T extends object>(over: T): T => Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) as T;

/** A ticket reference as the app makes them: 18 random bytes, base64url. */
export const newRef = () => randomBytes(18).toString('base64url');
/** A Kenyan number no other row uses: 2547 + 8 random digits. */
export const newPhone = () => `2547${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
/** A CheckoutRequestID shaped like Daraja's, unique. */
export const newCheckoutId = () => `ws_CO_${hex(10)}`;

export type MovieOverrides = Partial<Omit<Insertable<MovieTable>, 'showTime'>> & { showTime?: Date };

/**
 * A movie of its own: a unique title, KES 20, 1000 seats none held, showing in 5 days, unless told. ticketsHeld is
 * written as given: buildTicket does not hold seats, so a test that needs them held says so here.
 */
export async function buildMovie(db: Db, over: MovieOverrides = {}): Promise<number> {
  const now = toDbTime(new Date());
  const { showTime, ...rest } = given(over);
  const r = await db
    .insertInto('movie')
    .values({
      title: `Test movie ${++seq} ${hex(3)}`,
      description: 'Made by a test',
      price: 20,
      maximumTickets: 1000,
      ticketsHeld: 0,
      imageUrl: null,
      createdAt: now,
      updatedAt: now,
      ...rest,
      showTime: toDbTime(showTime ?? new Date(Date.now() + 5 * 86_400_000)),
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export type TicketOverrides = Partial<Insertable<TicketTable>> & { movieId: number };

/**
 * The values of a ticket row, for a builder or a bulk insert. Paid unless told, 1 seat at KES 20, and whatever the
 * status implies unless overridden: a receipt and callback confirmation for Paid, a cancellation for Failed, seats held
 * unless Failed.
 */
export function ticketValues(overrides: TicketOverrides): Insertable<TicketTable> {
  const over = given(overrides);
  const created = over.createdAt ?? toDbTime(new Date());
  const status = over.paymentStatus ?? 'Paid';
  const quantity = over.quantity ?? 1;
  return {
    ref: newRef(),
    customerName: `Customer ${++seq}`,
    phoneNumber: newPhone(),
    email: null,
    quantity,
    totalAmount: quantity * 20,
    paymentStatus: status,
    holdsTickets: status === 'Failed' ? 0 : 1,
    mpesaReceiptNumber: status === 'Paid' ? `R${hex(5).toUpperCase()}` : null,
    transactionDate: status === 'Paid' ? created : null,
    resultCode: status === 'Paid' ? '0' : status === 'Failed' ? '1032' : null,
    failureReason: status === 'Failed' ? 'You cancelled the payment on your phone' : null,
    confirmedBy: status === 'Pending' ? null : 'callback',
    needsRefund: 0,
    refundedAt: null,
    pendingSince: created,
    nextCheckAt: null,
    ticketCode: newTicketCode(),
    createdAt: created,
    updatedAt: created,
    ...over,
  };
}

export type BuiltTicket = Insertable<TicketTable> & { ticketId: number; ref: string; phoneNumber: string };

/** A ticket row (see ticketValues); the movie's ticketsHeld is left as it is. */
export async function buildTicket(db: Db, over: TicketOverrides): Promise<BuiltTicket> {
  const row = ticketValues(over);
  const r = await db.insertInto('ticket').values(row).executeTakeFirstOrThrow();
  return { ...row, ticketId: Number(r.insertId) };
}

export type PushOverrides = Partial<Insertable<PushRequestTable>> & { ticketId: number };

/**
 * A push attempt: Accepted unless told, with a unique CheckoutRequestID (none while Sending or Unknown, as the app
 * leaves them), answered when created unless still Sending.
 */
export async function buildPush(db: Db, overrides: PushOverrides): Promise<number> {
  const over = given(overrides);
  const status = over.status ?? 'Accepted';
  const createdAt = over.createdAt ?? toDbTime(new Date());
  const checkoutRequestId = over.checkoutRequestId !== undefined
    ? over.checkoutRequestId
    : status === 'Sending' || status === 'Unknown' ? null : newCheckoutId();
  const r = await db
    .insertInto('pushrequest')
    .values({
      merchantRequestId: checkoutRequestId ? `${randomInt(10000, 99999)}-${randomInt(1e6, 9e6)}-1` : null,
      phoneNumber: newPhone(),
      amount: 20,
      resultCode: null,
      resultDesc: null,
      errorCode: null,
      errorMessage: null,
      answeredAt: status === 'Sending' ? null : createdAt,
      completedAt: null,
      ...over,
      status,
      checkoutRequestId,
      createdAt,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

/** A callback inbox row: an applied callback from Safaricom's range unless told. */
export async function buildInbox(db: Db, overrides: Partial<Insertable<CallbackInboxTable>> = {}): Promise<number> {
  const over = given(overrides);
  const now = toDbTime(new Date());
  const r = await db
    .insertInto('callbackinbox')
    .values({
      receivedAt: now,
      source: 'callback',
      sourceIp: '196.201.214.200',
      body: '{"Body":{"stkCallback":{"ResultCode":0}}}',
      checkoutRequestId: null,
      outcome: 'applied',
      detail: null,
      ticketId: null,
      processedAt: now,
      ...over,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}

/** A notification row: a Paid email already sent unless told. */
export async function buildNotification(db: Db, overrides: Partial<Insertable<NotificationTable>> & { ticketId: number }): Promise<number> {
  const over = given(overrides);
  const now = toDbTime(new Date());
  const r = await db
    .insertInto('notification')
    .values({
      kind: 'Paid', channel: 'email', recipient: `fan${++seq}@example.com`, status: 'sent', attempts: 1, lastError: null,
      lockedUntil: null, createdAt: now, sentAt: now, ...over,
    })
    .executeTakeFirstOrThrow();
  return Number(r.insertId);
}
