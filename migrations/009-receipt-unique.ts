import { sql, type Kysely } from 'kysely';
import { isSqlite } from './dialect.js';

// An M-Pesa receipt number names one payment, so at most one ticket may record it: the database refuses a second
// (a unique index; NULL, a payment confirmed by STK Query whose receipt is still to come, may repeat). On MySQL and
// MariaDB the column gets a binary collation first, so receipts compare byte for byte as they do on SQLite and as the
// app compares them. See docs/adr/0037-a-receipt-pays-one-ticket.md.
//
// Rows written before this migration could hold one receipt twice (the app did not check). Such duplicates cannot be
// put right by a migration, only shown: the ticket that recorded the receipt first (lowest ticketId) keeps it; every
// other keeps its Paid state, loses the receipt text, and gets an audit row (its admin timeline shows it) naming the
// receipt and the ticket that kept it, for an operator to look into.

/** SQLite's DROP INDEX takes no table; MySQL's needs it. */
async function dropIndex(db: Kysely<any>, sqlite: boolean, name: string): Promise<void> {
  const drop = db.schema.dropIndex(name);
  await (sqlite ? drop : drop.on('ticket')).execute();
}

export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = await isSqlite(db);
  if (!sqlite) {
    await sql`alter table ticket modify mpesaReceiptNumber varchar(20) character set utf8mb4 collate utf8mb4_bin null`.execute(db);
  }
  const dupes = await db.selectFrom('ticket').select(['mpesaReceiptNumber', sql<number>`min(ticketId)`.as('keeper')])
    .where('mpesaReceiptNumber', 'is not', null).groupBy('mpesaReceiptNumber').having(sql`count(*)`, '>', 1).execute();
  const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
  for (const d of dupes) {
    const others = await db.selectFrom('ticket').select('ticketId')
      .where('mpesaReceiptNumber', '=', d.mpesaReceiptNumber).where('ticketId', '<>', Number(d.keeper)).execute();
    for (const o of others) {
      await db.insertInto('auditlog').values({
        at: now, actor: 'migration', action: 'ticket.receipt_duplicate', ticketId: o.ticketId, callbackId: null,
        detail: `receipt ${String(d.mpesaReceiptNumber)} was also recorded for ticket ${Number(d.keeper)}, which keeps it; removed here by migration 009`,
      }).execute();
      await db.updateTable('ticket').set({ mpesaReceiptNumber: null, updatedAt: now }).where('ticketId', '=', o.ticketId).execute();
    }
  }
  await dropIndex(db, sqlite, 'ticket_receipt');
  await db.schema.createIndex('ticket_receipt_unique').on('ticket').column('mpesaReceiptNumber').unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  const sqlite = await isSqlite(db);
  await dropIndex(db, sqlite, 'ticket_receipt_unique');
  await db.schema.createIndex('ticket_receipt').on('ticket').column('mpesaReceiptNumber').execute();
  if (!sqlite) {
    await sql`alter table ticket modify mpesaReceiptNumber varchar(20) character set utf8mb4 collate utf8mb4_unicode_ci null`.execute(db);
  }
}
