import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseHandle } from '../../src/core/db/database.js';
import { fromDbTime } from '../../src/core/db/time.js';
import { percentile } from './load.js';

/** Waits until the app has applied every callback it acknowledged (no inbox row left 'received'). Returns the ms waited. */
export async function waitApplied(h: DatabaseHandle, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await h.db.selectFrom('callbackinbox').select((eb) => eb.fn.countAll<number>().as('n')).where('outcome', '=', 'received').executeTakeFirstOrThrow();
    if (Number(r.n) === 0 || performance.now() - t0 > timeoutMs) return performance.now() - t0;
    await sleep(50);
  }
}

export interface AppliedLatency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Callback → ticket Paid (or Failed), per callback, from the database: the inbox row's receivedAt (stamped when the
 * request arrived) to its processedAt (stamped in the transaction that changed the ticket), for the applied rows of
 * tickets firstTicketId..lastTicketId. Millisecond resolution, one clock (the app's).
 */
export async function appliedLatency(h: DatabaseHandle, firstTicketId: number, lastTicketId: number): Promise<AppliedLatency> {
  const rows = await h.db
    .selectFrom('callbackinbox')
    .select(['receivedAt', 'processedAt'])
    .where('ticketId', '>=', firstTicketId)
    .where('ticketId', '<=', lastTicketId)
    .where('outcome', '=', 'applied')
    .where('source', '=', 'callback')
    .execute();
  const ms = rows.filter((r) => r.processedAt !== null)
    .map((r) => fromDbTime(r.processedAt!).getTime() - fromDbTime(r.receivedAt).getTime())
    .sort((a, b) => a - b);
  return { count: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms[ms.length - 1] ?? NaN };
}

/** The app's statement and commit counters (GET /healthz/db-counters, DB_COUNTERS=on). */
export async function readCounters(baseUrl: string): Promise<{ statements: number; commits: number }> {
  const r = await fetch(`${baseUrl}/healthz/db-counters`);
  if (!r.ok) throw new Error(`db-counters answered ${r.status}`);
  return (await r.json()) as { statements: number; commits: number };
}
