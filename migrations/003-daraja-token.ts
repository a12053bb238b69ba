import { sql, type Kysely } from 'kysely';

// The Daraja access token shared by every instance of the app. Daraja invalidates an app's previous token each time
// it issues a new one, so instances that fetch their own knock out each other's pushes (404.001.03). One row per Daraja
// app: credentialId is sha256(baseUrl, consumerKey), never the key or secret in clear. The lease (leaseOwner,
// leaseUntil) lets exactly one instance fetch at a time; accessToken and refreshAt are null until the first fetch.

export async function up(db: Kysely<any>): Promise<void> {
  const time = sql`datetime(3)`;
  await db.schema
    .createTable('darajatoken')
    .addColumn('credentialId', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('accessToken', 'varchar(512)')
    .addColumn('refreshAt', time)
    .addColumn('leaseOwner', 'varchar(100)')
    .addColumn('leaseUntil', time)
    .addColumn('updatedAt', time, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('darajatoken').ifExists().execute();
}
