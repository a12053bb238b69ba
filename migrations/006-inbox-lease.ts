import { sql, type Kysely } from 'kysely';

// Inbox rows are born 'received' and leased to the instance that wrote them (claimedBy, claimedUntil): that instance
// applies them at once without first claiming them; another instance takes a row over only once its lease has run
// out (payments/inbox-applier.ts, docs/adr/0016-group-commit-intake.md). Rows from before this migration have no lease,
// which counts as run out.
// A rejected callback keeps only the start of its body, so the size and sha256 of what arrived are kept beside it
// (bodyBytes, bodySha256); the retention job fills them in too when it trims an old body.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('callbackinbox')
    .addColumn('claimedBy', 'varchar(64)')
    .execute();
  await db.schema.alterTable('callbackinbox').addColumn('claimedUntil', sql`datetime(3)`).execute();
  await db.schema.alterTable('callbackinbox').addColumn('bodyBytes', 'integer').execute();
  await db.schema.alterTable('callbackinbox').addColumn('bodySha256', 'varchar(64)').execute();
  // The applier's "my received rows" (outcome, claimedBy) and the retention job's walk by age (receivedAt).
  await db.schema.createIndex('callbackinbox_claim').on('callbackinbox').columns(['outcome', 'claimedBy', 'callbackId']).execute();
  await db.schema.createIndex('callbackinbox_received').on('callbackinbox').column('receivedAt').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('callbackinbox_received').on('callbackinbox').execute();
  await db.schema.dropIndex('callbackinbox_claim').on('callbackinbox').execute();
  for (const c of ['bodySha256', 'bodyBytes', 'claimedUntil', 'claimedBy']) {
    await db.schema.alterTable('callbackinbox').dropColumn(c).execute();
  }
}
