import { sql, type Kysely } from 'kysely';
import { isSqlite } from './dialect.js';

// Indexes for the operator's tickets list (/admin/tickets), which pages newest first by (createdAt, ticketId) under any
// filter. 001 already serves: no filter / dates (ticket_createdAt), status (ticket_status_created), movie + status
// (ticket_movie_status), a whole phone number (ticket_phone). Both engines append the primary key to a secondary index,
// so each of these is also ordered by ticketId within equal createdAt. Added here:
//   - movie alone: (movieId, createdAt). ticket_movie_status orders a movie's rows by status first, so listing one
//     movie newest first would sort every ticket of that movie.
//   - the last digits of a phone (what a customer at the counter reads out): no index can find a LIKE '%1234', so the
//     last four digits get an index of their own, (tail, createdAt). SQLite indexes the expression substr(phoneNumber, -4)
//     directly. MariaDB cannot index an expression, only a generated column, so MySQL/MariaDB get an INVISIBLE virtual
//     column (MySQL ≥ 8.0.23, MariaDB ≥ 10.3): it takes no storage and `SELECT *` never shows it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('ticket_movie_created').on('ticket').columns(['movieId', 'createdAt']).execute();
  if (await isSqlite(db)) {
    await sql`create index ticket_phone_tail on ticket (substr(phoneNumber, -4), createdAt)`.execute(db);
  } else {
    await sql`alter table ticket add column phoneTail varchar(4) as (substr(phoneNumber, -4)) virtual invisible`.execute(db);
    await sql`create index ticket_phone_tail on ticket (phoneTail, createdAt)`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (await isSqlite(db)) {
    await sql`drop index if exists ticket_phone_tail`.execute(db);
    await sql`drop index if exists ticket_movie_created`.execute(db);
  } else {
    await sql`drop index ticket_phone_tail on ticket`.execute(db);
    await sql`alter table ticket drop column phoneTail`.execute(db);
    await sql`drop index ticket_movie_created on ticket`.execute(db);
  }
}
