import type { Db, Tx } from '../core/db/database.js';
import type { Notification } from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';

/**
 * Records a notification in the outbox. Call it inside the same transaction that moves the ticket to Paid or
 * Failed, so a notification exists if and only if the change was committed; the sender delivers it afterwards.
 */
export async function enqueueNotification(
  tx: Db | Tx,
  n: { ticketId: number; kind: 'Paid' | 'Failed'; email: string | null },
  now: Date,
): Promise<void> {
  await tx
    .insertInto('notification')
    .values({
      ticketId: n.ticketId,
      kind: n.kind,
      channel: n.email ? 'email' : 'log',
      recipient: n.email,
      status: 'pending',
      attempts: 0,
      lastError: null,
      lockedUntil: null,
      createdAt: toDbTime(now),
      sentAt: null,
    })
    .execute();
}

export async function notificationsForTicket(db: Db, ticketId: number): Promise<Notification[]> {
  return db.selectFrom('notification').selectAll().where('ticketId', '=', ticketId).orderBy('notificationId').execute();
}
