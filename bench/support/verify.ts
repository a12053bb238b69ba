import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../src/core/db/database.js';
import type { PendingTickets } from './data.js';

export interface TicketCheck {
  /** Callbacks answered, so tickets that must have reached their final state. */
  checked: number;
  ok: number;
  /** Up to 5 tickets in the wrong state, described. */
  wrong: string[];
  wrongCount: number;
  /** Pending tickets no callback was sent for that changed anyway (must be 0). */
  touchedUnsent: number;
  /** Time after the load stopped until every answered ticket had its final state (0 when processing is synchronous). */
  settleMs: number;
  /** Movies whose ticketsHeld differs from the sum of what their holding tickets hold (must be 0). */
  seatMismatches: number;
  /** Inbox rows written by this run, by outcome. */
  inbox: Record<string, number>;
}

interface Row {
  ticketId: number;
  paymentStatus: string;
  holdsTickets: number;
  mpesaReceiptNumber: string | null;
  resultCode: string | null;
  failureReason: string | null;
}

/**
 * Checks, in the database, that every ticket whose callback was answered is in the state its callback says (Paid with
 * the receipt and its seats still held, or Failed with a reason and its seats released), that tickets with no callback
 * are still Pending, and that every show's seat count equals what its tickets hold.
 */
export async function verifyTickets(
  h: DatabaseHandle,
  pending: PendingTickets,
  range: { from: number; count: number; answered: Uint8Array },
  opts: { settleTimeoutMs?: number } = {},
): Promise<TicketCheck> {
  const firstId = pending.firstTicketId + range.from;
  const lastId = firstId + range.count - 1;
  const t0 = performance.now();
  let rows: Row[] = [];
  for (;;) {
    rows = (await h.db
      .selectFrom('ticket')
      .select(['ticketId', 'paymentStatus', 'holdsTickets', 'mpesaReceiptNumber', 'resultCode', 'failureReason'])
      .where('ticketId', '>=', firstId)
      .where('ticketId', '<=', lastId)
      .orderBy('ticketId')
      .execute()) as Row[];
    const stillPending = rows.filter((r) => r.paymentStatus === 'Pending' && range.answered[r.ticketId - firstId] === 1).length;
    if (stillPending === 0 || performance.now() - t0 > (opts.settleTimeoutMs ?? 30_000)) break;
    await sleep(200);
  }
  const settleMs = performance.now() - t0 < 250 ? 0 : performance.now() - t0;

  let checked = 0;
  let ok = 0;
  let touchedUnsent = 0;
  const wrong: string[] = [];
  let wrongCount = 0;
  for (const r of rows) {
    const k = r.ticketId - firstId;
    const i = range.from + k;
    if (range.answered[k] !== 1) {
      if (r.paymentStatus !== 'Pending') touchedUnsent++;
      continue;
    }
    checked++;
    const want = pending.expected(i);
    const problems: string[] = [];
    if (r.paymentStatus !== want.status) problems.push(`status ${r.paymentStatus}, want ${want.status}`);
    if (want.status === 'Paid') {
      if (r.mpesaReceiptNumber !== pending.receipt(i)) problems.push(`receipt ${r.mpesaReceiptNumber}, want ${pending.receipt(i)}`);
      if (Number(r.holdsTickets) !== 1) problems.push('seats not held');
    } else {
      if (!r.failureReason) problems.push('no failure reason');
      if (Number(r.holdsTickets) !== 0) problems.push('seats not released');
    }
    if (r.resultCode !== null && r.resultCode !== want.resultCode) problems.push(`resultCode ${r.resultCode}, want ${want.resultCode}`);
    if (problems.length === 0) ok++;
    else {
      wrongCount++;
      if (wrong.length < 5) wrong.push(`ticket ${r.ticketId} (callback #${i}): ${problems.join('; ')}`);
    }
  }

  const seats = await sql<{ n: number | string }>`
    select count(*) as n from movie m
    where m.ticketsHeld <> (select coalesce(sum(t.quantity), 0) from ticket t where t.movieId = m.movieId and t.holdsTickets = 1)`.execute(h.db);

  const inboxRows = await h.db
    .selectFrom('callbackinbox')
    .select(['outcome', (eb) => eb.fn.countAll<number>().as('n')])
    // The history fill wrote inbox rows 1..history; everything after came from this run.
    .where('callbackId', '>', pending.firstTicketId - 1)
    .groupBy('outcome')
    .execute();
  const inbox: Record<string, number> = {};
  for (const r of inboxRows) inbox[r.outcome] = Number(r.n);

  return {
    checked, ok, wrong, wrongCount, touchedUnsent, settleMs,
    seatMismatches: Number(seats.rows[0]?.n ?? 0),
    inbox,
  };
}

export const checkPassed = (c: TicketCheck): boolean =>
  c.checked > 0 && c.ok === c.checked && c.touchedUnsent === 0 && c.seatMismatches === 0;

export function describeCheck(c: TicketCheck): string {
  const inbox = Object.entries(c.inbox).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const parts = [
    `${c.ok}/${c.checked} tickets in the right state`,
    `${c.touchedUnsent} unsent changed`,
    `${c.seatMismatches} seat-count mismatches`,
    `inbox: ${inbox}`,
  ];
  if (c.settleMs > 0) parts.push(`settled ${Math.round(c.settleMs)} ms after the load`);
  if (c.wrong.length) parts.push(`wrong (${c.wrongCount}): ${c.wrong.join(' | ')}`);
  return parts.join('; ');
}
