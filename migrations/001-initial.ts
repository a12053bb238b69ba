import { sql, type Kysely } from 'kysely';

// One schema for MySQL/MariaDB and SQLite: only types both understand (SQLite reads datetime(3), tinyint and
// mediumtext by affinity). Times are UTC; money is whole shillings.

export async function up(db: Kysely<any>): Promise<void> {
  const time = sql`datetime(3)`;

  await db.schema
    .createTable('movie')
    .addColumn('movieId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('showTime', time, (c) => c.notNull())
    .addColumn('price', 'integer', (c) => c.notNull())
    .addColumn('maximumTickets', 'integer', (c) => c.notNull())
    .addColumn('ticketsHeld', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('imageUrl', 'varchar(500)')
    .addColumn('createdAt', time, (c) => c.notNull())
    .addColumn('updatedAt', time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('movie_showTime').on('movie').column('showTime').execute();

  await db.schema
    .createTable('ticket')
    .addColumn('ticketId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ref', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('movieId', 'integer', (c) => c.notNull().references('movie.movieId'))
    .addColumn('customerName', 'varchar(100)', (c) => c.notNull())
    .addColumn('phoneNumber', 'varchar(12)', (c) => c.notNull())
    .addColumn('email', 'varchar(254)')
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('totalAmount', 'integer', (c) => c.notNull())
    .addColumn('paymentStatus', 'varchar(10)', (c) => c.notNull())
    .addColumn('holdsTickets', sql`tinyint`, (c) => c.notNull())
    .addColumn('mpesaReceiptNumber', 'varchar(20)')
    .addColumn('transactionDate', time)
    .addColumn('resultCode', 'varchar(20)')
    .addColumn('failureReason', 'varchar(255)')
    .addColumn('confirmedBy', 'varchar(10)')
    .addColumn('needsRefund', sql`tinyint`, (c) => c.notNull().defaultTo(0))
    .addColumn('refundedAt', time)
    .addColumn('pendingSince', time, (c) => c.notNull())
    .addColumn('nextCheckAt', time)
    .addColumn('createdAt', time, (c) => c.notNull())
    .addColumn('updatedAt', time, (c) => c.notNull())
    .execute();
  // Admin lists page by (createdAt, ticketId); the reconciler scans Pending tickets due for a check.
  await db.schema.createIndex('ticket_createdAt').on('ticket').columns(['createdAt', 'ticketId']).execute();
  await db.schema.createIndex('ticket_movie_status').on('ticket').columns(['movieId', 'paymentStatus', 'createdAt']).execute();
  await db.schema.createIndex('ticket_status_check').on('ticket').columns(['paymentStatus', 'nextCheckAt']).execute();
  await db.schema.createIndex('ticket_status_created').on('ticket').columns(['paymentStatus', 'createdAt']).execute();
  await db.schema.createIndex('ticket_phone').on('ticket').columns(['phoneNumber', 'createdAt']).execute();
  await db.schema.createIndex('ticket_receipt').on('ticket').column('mpesaReceiptNumber').execute();
  await db.schema.createIndex('ticket_refund').on('ticket').columns(['needsRefund', 'refundedAt']).execute();

  await db.schema
    .createTable('pushrequest')
    .addColumn('pushRequestId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ticketId', 'integer', (c) => c.notNull().references('ticket.ticketId'))
    .addColumn('checkoutRequestId', 'varchar(64)', (c) => c.unique())
    .addColumn('merchantRequestId', 'varchar(64)')
    .addColumn('phoneNumber', 'varchar(12)', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('resultCode', 'varchar(20)')
    .addColumn('resultDesc', 'varchar(255)')
    .addColumn('errorCode', 'varchar(32)')
    .addColumn('errorMessage', 'varchar(255)')
    .addColumn('createdAt', time, (c) => c.notNull())
    .addColumn('answeredAt', time)
    .addColumn('completedAt', time)
    .execute();
  await db.schema.createIndex('pushrequest_ticket').on('pushrequest').column('ticketId').execute();
  // Matching a callback whose CheckoutRequestID we never learned (the push timed out) by phone and amount.
  await db.schema.createIndex('pushrequest_phone_amount').on('pushrequest').columns(['phoneNumber', 'amount', 'createdAt']).execute();

  await db.schema
    .createTable('callbackinbox')
    .addColumn('callbackId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('receivedAt', time, (c) => c.notNull())
    .addColumn('source', 'varchar(10)', (c) => c.notNull())
    .addColumn('sourceIp', 'varchar(64)')
    .addColumn('body', sql`mediumtext`, (c) => c.notNull())
    .addColumn('checkoutRequestId', 'varchar(64)')
    .addColumn('outcome', 'varchar(12)', (c) => c.notNull())
    .addColumn('detail', 'varchar(255)')
    .addColumn('ticketId', 'integer')
    .addColumn('processedAt', time)
    .execute();
  await db.schema.createIndex('callbackinbox_checkout').on('callbackinbox').columns(['checkoutRequestId', 'outcome']).execute();
  await db.schema.createIndex('callbackinbox_outcome').on('callbackinbox').columns(['outcome', 'callbackId']).execute();
  await db.schema.createIndex('callbackinbox_ticket').on('callbackinbox').column('ticketId').execute();

  await db.schema
    .createTable('notification')
    .addColumn('notificationId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ticketId', 'integer', (c) => c.notNull().references('ticket.ticketId'))
    .addColumn('kind', 'varchar(10)', (c) => c.notNull())
    .addColumn('channel', 'varchar(10)', (c) => c.notNull())
    .addColumn('recipient', 'varchar(254)')
    .addColumn('status', 'varchar(10)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lastError', 'varchar(255)')
    .addColumn('lockedUntil', time)
    .addColumn('createdAt', time, (c) => c.notNull())
    .addColumn('sentAt', time)
    .execute();
  await db.schema.createIndex('notification_status').on('notification').columns(['status', 'notificationId']).execute();
  await db.schema.createIndex('notification_ticket').on('notification').column('ticketId').execute();

  await db.schema
    .createTable('auditlog')
    .addColumn('auditId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('at', time, (c) => c.notNull())
    .addColumn('actor', 'varchar(100)', (c) => c.notNull())
    .addColumn('action', 'varchar(50)', (c) => c.notNull())
    .addColumn('ticketId', 'integer')
    .addColumn('callbackId', 'integer')
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('auditlog_ticket').on('auditlog').column('ticketId').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['auditlog', 'notification', 'callbackinbox', 'pushrequest', 'ticket', 'movie']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
