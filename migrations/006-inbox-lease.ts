import { sql, type Kysely } from 'kysely';
import { isSqlite } from './dialect.js';

// Inbox rows are born 'received' and leased to the instance that wrote them (claimedBy, claimedUntil): that instance
// applies them at once without first claiming them; another instance takes a row over only once its lease has run
// out (payments/inbox-applier.ts, docs/adr/0016-group-commit-intake.md). Rows from before this migration have no lease,
// which counts as run out.
// A rejected callback keeps only the start of its body, so the size and sha256 of what arrived are kept beside it
// (bodyBytes, bodySha256); the retention job fills them in too when it trims an old body.

export async function up(db: Kysely<any>): Promise<void> {
  // The applier's "my received rows" (outcome, claimedBy, callbackId) and the retention job's walk by age (receivedAt).
  if (await isSqlite(db)) {
    for (const [name, type] of [['claimedBy', 'varchar(64)'], ['claimedUntil', 'datetime(3)'], ['bodyBytes', 'integer'], ['bodySha256', 'varchar(64)']] as const) {
      await db.schema.alterTable('callbackinbox').addColumn(name, sql.raw(type)).execute();
    }
    await db.schema.createIndex('callbackinbox_claim').on('callbackinbox').columns(['outcome', 'claimedBy', 'callbackId']).execute();
    await db.schema.createIndex('callbackinbox_received').on('callbackinbox').column('receivedAt').execute();
    return;
  }
  // MySQL: one ALTER TABLE, so the table is rebuilt once and not six times.
  await sql`alter table callbackinbox
    add column claimedBy varchar(64) null, add column claimedUntil datetime(3) null,
    add column bodyBytes integer null, add column bodySha256 varchar(64) null,
    add index callbackinbox_claim (outcome, claimedBy, callbackId), add index callbackinbox_received (receivedAt)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('callbackinbox_received').on('callbackinbox').execute();
  await db.schema.dropIndex('callbackinbox_claim').on('callbackinbox').execute();
  for (const c of ['bodySha256', 'bodyBytes', 'claimedUntil', 'claimedBy']) {
    await db.schema.alterTable('callbackinbox').dropColumn(c).execute();
  }
}
