import type { Executor } from '../core/db/transaction.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The appsecret table's one owner: secrets the app makes for itself (the CSRF signing key when CSRF_SECRET is not set),
 * shared by every instance on this database and kept across restarts. The same write-once row keeps the database's own
id ('database-id'), which the callback spool names its entries by: not a secret, but made and kept the same way. A row is written once and never changed: the
 * first instance to insert a name wins (the insert is ignored when the name exists) and everyone reads the winner's
 * value. Nothing here logs: the values are secrets.
 */

/** The secret kept under `name`, storing `candidate` first when there is none yet. */
export async function keptSecret(db: Executor, name: string, candidate: string, now: Date): Promise<string> {
  await db.insertInto('appsecret').values({ name, value: candidate, createdAt: toDbTime(now) }).ignore().execute();
  const row = await db.selectFrom('appsecret').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
