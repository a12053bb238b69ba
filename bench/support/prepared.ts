import { CompiledQuery } from 'kysely';
import type { DatabaseHandle } from '../../src/core/db/database.js';
import { ATTEMPT_WITH_TICKET_SQL, findAttemptWithTicket } from '../../src/store/push-request.repository.js';

export interface PreparedSaving {
  /** µs of this process's CPU per call. */
  prepared: number;
  sameTextUnprepared: number;
  builtByKysely: number;
  calls: number;
}

/** CPU µs per call of `fn` over `ids`, after a warm-up. */
async function cpuPerCall(ids: readonly string[], fn: (id: string) => Promise<unknown>): Promise<number> {
  for (const id of ids.slice(0, 200)) await fn(id);
  const c0 = process.cpuUsage();
  for (const id of ids) await fn(id);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / ids.length;
}

/**
 * What preparing saves, in this process: the applier's read of an attempt with its ticket (a join and a subquery),
 * three ways on the same rows: the prepared statement the app uses (core/db/fast.ts), the same SQL text through Kysely's
 * driver (prepared again on every call on SQLite), and the equivalent query built by Kysely on every call (what the
 * callback path did before). CPU, not wall time, so the database's own work counts only where it runs in-process.
 */
export async function measurePreparedSaving(h: DatabaseHandle, checkoutRequestIds: readonly string[]): Promise<PreparedSaving> {
  const ids = checkoutRequestIds;
  const prepared = await cpuPerCall(ids, (id) => findAttemptWithTicket(h.fast, id));
  const sameTextUnprepared = await cpuPerCall(ids, (id) => h.db.executeQuery(CompiledQuery.raw(ATTEMPT_WITH_TICKET_SQL, [id])));
  const builtByKysely = await cpuPerCall(ids, (id) => h.db
    .selectFrom('pushrequest as p')
    .innerJoin('ticket as t', 't.ticketId', 'p.ticketId')
    .select([
      'p.pushRequestId', 'p.status as pushStatus', 't.ticketId', 't.paymentStatus', 't.holdsTickets', 't.needsRefund', 't.totalAmount',
      't.phoneNumber', 't.email', 't.movieId', 't.quantity',
      (eb) => eb.selectFrom('pushrequest as l').select((e) => e.fn.max('l.pushRequestId').as('m')).whereRef('l.ticketId', '=', 't.ticketId').as('latestPushRequestId'),
    ])
    .where('p.checkoutRequestId', '=', id)
    .execute());
  return { prepared, sameTextUnprepared, builtByKysely, calls: ids.length };
}
