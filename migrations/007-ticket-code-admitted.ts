import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { isSqlite } from './dialect.js';

// The door. A ticket gets a code (8 characters of an unambiguous alphabet, unique by this index) that its page and its
// QR code show once it is Paid, and a count of the people let in on it so far. `admitted` only grows, by one
// conditional UPDATE per admission (admitted + n <= quantity), so doors admitting at the same moment never let in more
// people than the ticket has seats; lastAdmittedAt/lastAdmittedBy let a door say when, and which door, filled it.
// Existing tickets get a code here, so every Paid ticket has one. See docs/adr/0028-ticket-codes.md and 0030.

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const code = () => [...randomBytes(8)].map((b) => ALPHABET[b & 31]).join('');

export async function up(db: Kysely<any>): Promise<void> {
  const time = sql`datetime(3)`;
  await db.schema.alterTable('ticket').addColumn('ticketCode', 'varchar(8)').execute();
  await db.schema.alterTable('ticket').addColumn('admitted', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('ticket').addColumn('lastAdmittedAt', time).execute();
  await db.schema.alterTable('ticket').addColumn('lastAdmittedBy', 'varchar(100)').execute();
  await db.schema.createIndex('ticket_code').on('ticket').column('ticketCode').unique().execute();
  for (;;) {
    const rows = await db.selectFrom('ticket').select('ticketId').where('ticketCode', 'is', null).limit(500).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      for (let attempt = 0; ; attempt++) {
        try {
          await db.updateTable('ticket').set({ ticketCode: code() }).where('ticketId', '=', r.ticketId).execute();
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
    }
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (await isSqlite(db)) await sql`drop index if exists ticket_code`.execute(db);
  else await sql`drop index ticket_code on ticket`.execute(db);
  for (const c of ['lastAdmittedBy', 'lastAdmittedAt', 'admitted', 'ticketCode']) {
    await db.schema.alterTable('ticket').dropColumn(c).execute();
  }
}
