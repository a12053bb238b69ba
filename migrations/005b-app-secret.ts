import { sql, type Kysely } from 'kysely';

// Secrets the app makes for itself when the operator set none, kept so that a restart (or a second instance on this
// database) uses the same one: today the key that signs CSRF tokens, so a form opened before a restart still submits.
// One row per secret name; the first instance to write a name wins and the others read its value. Never logged.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('appsecret')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'varchar(255)', (c) => c.notNull())
    .addColumn('createdAt', sql`datetime(3)`, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('appsecret').ifExists().execute();
}
