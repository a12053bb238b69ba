import { sql, type Kysely } from 'kysely';

// Refunds paid back through M-Pesa (Transaction Reversal), one row per attempt to give a ticket's money back, and the
// cancelled shows whose Paid tickets are all refunded. Owned by src/store/refund.repository.ts (its state machine at
// the top) and src/store/movie.repository.ts.
//
// activeTicketId is the database's guarantee that a ticket has at most one refund in flight or done: it holds the
// ticket's id while the refund is requested, accepted, unknown or refunded, and is cleared when it fails (so a new
// attempt can be made). A unique index allows many NULLs on both MySQL/MariaDB and SQLite.

export async function up(db: Kysely<any>): Promise<void> {
  const time = sql`datetime(3)`;
  await db.schema
    .createTable('refund')
    .addColumn('refundId', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ticketId', 'integer', (c) => c.notNull().references('ticket.ticketId'))
    .addColumn('activeTicketId', 'integer', (c) => c.unique())
    .addColumn('amount', 'integer', (c) => c.notNull())
    .addColumn('transactionId', 'varchar(20)', (c) => c.notNull())
    .addColumn('status', 'varchar(10)', (c) => c.notNull())
    .addColumn('reason', 'varchar(255)')
    .addColumn('actor', 'varchar(100)', (c) => c.notNull())
    .addColumn('conversationId', 'varchar(64)')
    .addColumn('originatorConversationId', 'varchar(64)')
    .addColumn('reversalTransactionId', 'varchar(20)')
    .addColumn('statusConversationId', 'varchar(64)')
    .addColumn('statusOriginatorConversationId', 'varchar(64)')
    .addColumn('resultCode', 'varchar(20)')
    .addColumn('failureReason', 'varchar(255)')
    .addColumn('sendingSince', time)
    .addColumn('nextAttemptAt', time)
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('statusChecks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('createdAt', time, (c) => c.notNull())
    .addColumn('acceptedAt', time)
    .addColumn('completedAt', time)
    .addColumn('updatedAt', time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('refund_ticket').on('refund').columns(['ticketId', 'refundId']).execute();
  await db.schema.createIndex('refund_due').on('refund').columns(['status', 'nextAttemptAt']).execute();
  await db.schema.createIndex('refund_conversation').on('refund').column('conversationId').execute();
  await db.schema.createIndex('refund_originator').on('refund').column('originatorConversationId').execute();
  await db.schema.createIndex('refund_status_conversation').on('refund').column('statusConversationId').execute();
  await db.schema.createIndex('refund_status_originator').on('refund').column('statusOriginatorConversationId').execute();

  await db.schema.alterTable('movie').addColumn('cancelledAt', time).execute();
  await db.schema.alterTable('movie').addColumn('cancelReason', 'varchar(255)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('refund').ifExists().execute();
  await db.schema.alterTable('movie').dropColumn('cancelReason').execute();
  await db.schema.alterTable('movie').dropColumn('cancelledAt').execute();
}
