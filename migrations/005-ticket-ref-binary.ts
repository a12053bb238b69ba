import { sql, type Kysely } from 'kysely';
import { isSqlite } from './dialect.js';

// A ticket's reference is a bearer secret (whoever has it sees the ticket and can retry it), made of 144 random bits
// in base64url, where 'a' and 'A' are different digits. MySQL and MariaDB compare a utf8mb4_unicode_ci column without
// regard to letter case, so `WHERE ref = ?` also matched the reference with its letters' case swapped: far fewer
// guesses than 144 bits promise, and two references differing only in case could not both be stored. A binary
// collation compares byte for byte, as SQLite already does. Same character set as the connection, so the comparison
// keeps using the unique index. See docs/adr/0023-references-are-bearer-secrets.md.

export async function up(db: Kysely<any>): Promise<void> {
  if (await isSqlite(db)) return;
  await sql`alter table ticket modify ref varchar(32) character set utf8mb4 collate utf8mb4_bin not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (await isSqlite(db)) return;
  await sql`alter table ticket modify ref varchar(32) character set utf8mb4 collate utf8mb4_unicode_ci not null`.execute(db);
}
