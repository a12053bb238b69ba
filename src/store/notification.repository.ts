import type { FastConnection } from '../core/db/fast.js';
import type { Executor } from '../core/db/transaction.js';
import type { Notification, NotificationChannel, NotificationKind } from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The notification table's one owner: the outbox. A row is written in the same transaction as the ticket change it
 * announces, and delivered afterwards by notifications/notification.sender.ts.
 *
 * The state machine: pending → sent | failed (after the last attempt); a pending row is claimed by setting lockedUntil
 * (see below), and a failed attempt puts it back to pending with lockedUntil as its back-off.
 *
 * One row per channel, so each is retried on its own: the email (or, without an address, the log line) for every kind,
 * and an SMS to the ticket's phone for the kinds in SMS_KINDS.
 */

/** The kinds the customer also gets by SMS (the message texts are in notifications/notification.messages.ts). */
export const SMS_KINDS: readonly NotificationKind[] = ['Paid', 'Refunded'];

/**
 * Records a notification in the outbox. Call it inside the same transaction that moves the ticket to Paid or
 * Failed (or records its money sent back), so a notification exists if and only if the change was committed; the sender delivers it afterwards.
 */
export async function enqueueNotification(
  tx: Executor,
  n: { ticketId: number; kind: NotificationKind; email: string | null },
  now: Date,
): Promise<void> {
  const row = (channel: NotificationChannel, recipient: string | null) => ({
    ticketId: n.ticketId,
    kind: n.kind,
    channel,
    recipient,
    status: 'pending' as const,
    attempts: 0,
    lastError: null,
    lockedUntil: null,
    createdAt: toDbTime(now),
    sentAt: null,
  });
  const rows = [row(n.email ? 'email' : 'log', n.email)];
  if (SMS_KINDS.includes(n.kind)) {
    const t = await tx.selectFrom('ticket').select('phoneNumber').where('ticketId', '=', n.ticketId).executeTakeFirst();
    if (t) rows.push(row('sms', `+${t.phoneNumber}`));
  }
  await tx.insertInto('notification').values(rows).execute();
}

const ENQUEUE_ROW = "(?, ?, ?, ?, 'pending', 0, NULL, NULL, ?, NULL)";
const ENQUEUE_SQL = [1, 2].map((n) =>
  `INSERT INTO notification (ticketId, kind, channel, recipient, status, attempts, lastError, lockedUntil, createdAt, sentAt) VALUES ${Array(n).fill(ENQUEUE_ROW).join(', ')}`);

/**
 * enqueueNotification, as one prepared statement inside a fast transaction (core/db/fast.ts): the same rows (the email
 * or log row, and the SMS for SMS_KINDS), with the ticket's phone number handed in rather than read again.
 */
export async function enqueueNotificationFast(
  c: FastConnection, n: { ticketId: number; kind: NotificationKind; email: string | null; phoneNumber: string }, now: Date,
): Promise<void> {
  const at = toDbTime(now);
  const params: unknown[] = [n.ticketId, n.kind, n.email ? 'email' : 'log', n.email, at];
  if (SMS_KINDS.includes(n.kind)) params.push(n.ticketId, n.kind, 'sms', `+${n.phoneNumber}`, at);
  await c.exec(ENQUEUE_SQL[params.length / 5 - 1]!, params);
}

export async function notificationsForTicket(db: Executor, ticketId: number): Promise<Notification[]> {
  return db.selectFrom('notification').selectAll().where('ticketId', '=', ticketId).orderBy('notificationId').execute();
}

// ── the sender's side of the outbox ──────────────────────────────────────────────────────────────────────────────
// A row is claimed by a conditional UPDATE that sets lockedUntil; only the instance whose UPDATE changed the row
// sends it. The lockedUntil value it wrote is its claim token: marking the row sent or failed is conditional on it, so
// an instance whose claim expired and was taken over cannot overwrite the newer claim. lockedUntil also carries the
// back-off after a failed attempt (the row is not due again before then).

/** Ids of pending notifications that are due (never claimed, or their claim or back-off has run out), oldest first. */
export async function dueNotificationIds(db: Executor, now: Date, limit: number): Promise<number[]> {
  const at = toDbTime(now);
  const rows = await db
    .selectFrom('notification')
    .select('notificationId')
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at)]))
    .orderBy('notificationId')
    .limit(limit)
    .execute();
  return rows.map((r) => r.notificationId);
}

/** Claims one due notification until `lockUntil`. True only for the one caller whose UPDATE took it. */
export async function claimNotification(db: Executor, notificationId: number, now: Date, lockUntil: Date): Promise<boolean> {
  const at = toDbTime(now);
  const r = await db
    .updateTable('notification')
    .set({ lockedUntil: toDbTime(lockUntil) })
    .where('notificationId', '=', notificationId)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** What a message needs: the notification, its ticket and its movie. */
export interface NotificationContent {
  notificationId: number;
  kind: NotificationKind;
  channel: NotificationChannel;
  recipient: string | null;
  attempts: number;
  ref: string;
  ticketCode: string | null;
  customerName: string;
  phoneNumber: string;
  quantity: number;
  totalAmount: number;
  mpesaReceiptNumber: string | null;
  transactionDate: string | null;
  failureReason: string | null;
  movieTitle: string;
  showTime: string;
}

export async function loadNotificationContent(db: Executor, notificationId: number): Promise<NotificationContent | undefined> {
  return db
    .selectFrom('notification')
    .innerJoin('ticket', 'ticket.ticketId', 'notification.ticketId')
    .innerJoin('movie', 'movie.movieId', 'ticket.movieId')
    .select([
      'notification.notificationId',
      'notification.kind',
      'notification.channel',
      'notification.recipient',
      'notification.attempts',
      'ticket.ref',
      'ticket.ticketCode',
      'ticket.customerName',
      'ticket.phoneNumber',
      'ticket.quantity',
      'ticket.totalAmount',
      'ticket.mpesaReceiptNumber',
      'ticket.transactionDate',
      'ticket.failureReason',
      'movie.title as movieTitle',
      'movie.showTime',
    ])
    .where('notification.notificationId', '=', notificationId)
    .executeTakeFirst();
}

/** Marks a claimed notification sent. False when the claim was lost (another instance took it over). */
export async function markNotificationSent(db: Executor, notificationId: number, claim: Date, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('notification')
    .set({ status: 'sent', sentAt: toDbTime(now), lockedUntil: null, lastError: null })
    .where('notificationId', '=', notificationId)
    .where('status', '=', 'pending')
    .where('lockedUntil', '=', toDbTime(claim))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Records a failed attempt: `retryAt` is when it is due again, or null to give up ('failed'). Conditional on the
 * claim, like markNotificationSent.
 */
export async function markNotificationAttemptFailed(
  db: Executor,
  notificationId: number,
  claim: Date,
  p: { attempts: number; lastError: string; retryAt: Date | null },
): Promise<boolean> {
  const r = await db
    .updateTable('notification')
    .set({
      attempts: p.attempts,
      lastError: p.lastError.slice(0, 255),
      status: p.retryAt ? 'pending' : 'failed',
      lockedUntil: p.retryAt ? toDbTime(p.retryAt) : null,
    })
    .where('notificationId', '=', notificationId)
    .where('status', '=', 'pending')
    .where('lockedUntil', '=', toDbTime(claim))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
