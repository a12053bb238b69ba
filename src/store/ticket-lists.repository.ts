import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { DatabaseHandle } from '../core/db/database.js';
import type { Executor } from '../core/db/transaction.js';
import type { Database, PaymentStatus, Ticket } from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';

/**
 * Read-only lists and totals of tickets for the operator's pages; every write to a ticket is in ticket.repository.ts.
 * Every list is a keyset page over an index whose order is the list's order, so the database reads about `limit`
 * index entries whatever the table's size (migrations/002-admin-indexes.ts says which index serves which filter).
 */

/** A key of the tickets list: createdAt as stored ('YYYY-MM-DD HH:MM:SS.mmm', UTC), then ticketId. */
export interface TimeKey {
  at: string;
  id: number;
}

/** How an operator's phone entry is matched: the whole number, or the digits it ends with. */
export type PhoneMatch = { kind: 'exact'; phone: string } | { kind: 'tail'; digits: string };

/** The filter in stored terms: UTC bounds, a resolved phone match. */
export interface TicketQuery {
  movieId?: number;
  status?: PaymentStatus;
  createdFrom?: Date;
  createdBefore?: Date;
  phone?: PhoneMatch;
  /** A ticket code or an M-Pesa receipt number, matched exactly (ticket_code and ticket_receipt indexes). */
  codeOrReceipt?: string;
}

export const TICKET_LIST_COLUMNS = [
  'ticketId', 'ref', 'movieId', 'customerName', 'phoneNumber', 'quantity', 'totalAmount', 'paymentStatus', 'holdsTickets',
  'mpesaReceiptNumber', 'transactionDate', 'failureReason', 'confirmedBy', 'needsRefund', 'refundedAt', 'createdAt',
  'ticketCode', 'admitted', 'resultCode',
] as const;
export type TicketListRow = Pick<Ticket, (typeof TICKET_LIST_COLUMNS)[number]>;

type TicketSelect<O> = SelectQueryBuilder<Database, 'ticket', O>;

/**
 * The last four digits of the phone, matching the index of migration 002 exactly: an expression index on SQLite, an
 * invisible generated column on MySQL/MariaDB (MariaDB cannot index an expression without a column).
 */
function phoneTail(h: DatabaseHandle) {
  return h.dialect === 'sqlite' ? sql<string>`substr(phoneNumber, -4)` : sql<string>`phoneTail`;
}

function applyTicketFilter<O>(h: DatabaseHandle, q: TicketSelect<O>, f: TicketQuery): TicketSelect<O> {
  if (f.movieId !== undefined) q = q.where('movieId', '=', f.movieId);
  if (f.status !== undefined) q = q.where('paymentStatus', '=', f.status);
  if (f.createdFrom) q = q.where('createdAt', '>=', toDbTime(f.createdFrom));
  if (f.createdBefore) q = q.where('createdAt', '<', toDbTime(f.createdBefore));
  if (f.phone?.kind === 'exact') q = q.where('phoneNumber', '=', f.phone.phone);
  if (f.codeOrReceipt !== undefined) {
    const v = f.codeOrReceipt;
    q = q.where((eb) => eb.or([eb('ticketCode', '=', v), eb('mpesaReceiptNumber', '=', v)]));
  }
  if (f.phone?.kind === 'tail') {
    const digits = f.phone.digits;
    q = q.where(phoneTail(h), '=', digits.slice(-4));
    if (digits.length > 4) q = q.where('phoneNumber', 'like', `%${digits}`);
  }
  return q;
}

/** Rows strictly after `key` in (createdAt, id) order. The `<=` conjunct is what lets both databases seek the index. */
function afterTimeKey<O>(q: TicketSelect<O>, key: TimeKey, direction: 'desc' | 'asc'): TicketSelect<O> {
  return direction === 'desc'
    ? q.where((eb: ExpressionBuilder<Database, 'ticket'>) =>
        eb.and([eb('createdAt', '<=', key.at), eb.or([eb('createdAt', '<', key.at), eb('ticketId', '<', key.id)])]))
    : q.where((eb: ExpressionBuilder<Database, 'ticket'>) =>
        eb.and([eb('createdAt', '>=', key.at), eb.or([eb('createdAt', '>', key.at), eb('ticketId', '>', key.id)])]));
}

/** One page of tickets, newest first (or oldest first for the CSV), starting after `after`. */
export async function ticketPage(
  h: DatabaseHandle,
  f: TicketQuery,
  opts: { after?: TimeKey; limit: number; direction?: 'desc' | 'asc' },
): Promise<TicketListRow[]> {
  const direction = opts.direction ?? 'desc';
  let q = applyTicketFilter(h, h.db.selectFrom('ticket').select(TICKET_LIST_COLUMNS), f);
  if (opts.after) q = afterTimeKey(q, opts.after, direction);
  return q.orderBy('createdAt', direction).orderBy('ticketId', direction).limit(opts.limit).execute();
}

export interface StatusTotals {
  paymentStatus: PaymentStatus;
  tickets: number;
  quantity: number;
  amount: number;
  /** Of those, Paid tickets whose seats are counted (holdsTickets = 1): the seats actually sold. */
  soldQuantity: number;
  soldAmount: number;
}

/**
 * Count, seats and shillings per status for everything the filter matches: a full aggregate, O(matching rows). One row
 * of conditional sums rather than GROUP BY paymentStatus: grouped, MySQL/MariaDB walks a status index and fetches every
 * row through it (4.3 s for 1M tickets on a default buffer pool, against 1.5 s for a plain scan).
 */
export async function ticketTotals(h: DatabaseHandle, f: TicketQuery): Promise<StatusTotals[]> {
  const statuses: PaymentStatus[] = ['Pending', 'Paid', 'Failed'];
  const q = applyTicketFilter(
    h,
    h.db.selectFrom('ticket').select(
      statuses.flatMap((s, i) => {
        const when = sql.lit(s);
        return [
          sql<number>`sum(case when paymentStatus = ${when} then 1 else 0 end)`.as(`t${i}`),
          sql<number>`sum(case when paymentStatus = ${when} then quantity else 0 end)`.as(`q${i}`),
          sql<number>`sum(case when paymentStatus = ${when} then totalAmount else 0 end)`.as(`a${i}`),
          sql<number>`sum(case when paymentStatus = ${when} and holdsTickets = 1 then quantity else 0 end)`.as(`sq${i}`),
          sql<number>`sum(case when paymentStatus = ${when} and holdsTickets = 1 then totalAmount else 0 end)`.as(`sa${i}`),
        ];
      }),
    ),
    f,
  );
  const row = (await q.executeTakeFirst()) as Record<string, unknown> | undefined;
  // MySQL answers SUM as a DECIMAL string, SQLite as a number; over no rows, SUM is NULL.
  const n = (k: string) => Number(row?.[k] ?? 0);
  return statuses
    .map((paymentStatus, i) => ({
      paymentStatus,
      tickets: n(`t${i}`),
      quantity: n(`q${i}`),
      amount: n(`a${i}`),
      soldQuantity: n(`sq${i}`),
      soldAmount: n(`sa${i}`),
    }))
    .filter((t) => t.tickets > 0);
}

// ── refunds ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Paid tickets flagged for refund and not yet refunded, oldest first (the longest-waiting customer first). */
export async function refundsDue(db: Executor, limit: number): Promise<TicketListRow[]> {
  return db
    .selectFrom('ticket')
    .select(TICKET_LIST_COLUMNS)
    .where('needsRefund', '=', 1)
    .where('refundedAt', 'is', null)
    .where('paymentStatus', '=', 'Paid')
    .orderBy('createdAt')
    .orderBy('ticketId')
    .limit(limit)
    .execute();
}

export async function countRefundsDue(db: Executor): Promise<{ tickets: number; amount: number }> {
  const r = await db
    .selectFrom('ticket')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('totalAmount').as('amount')])
    .where('needsRefund', '=', 1)
    .where('refundedAt', 'is', null)
    .where('paymentStatus', '=', 'Paid')
    .executeTakeFirstOrThrow();
  return { tickets: Number(r.n), amount: Number(r.amount ?? 0) };
}

export async function recentlyRefunded(db: Executor, limit: number): Promise<TicketListRow[]> {
  return db
    .selectFrom('ticket')
    .select(TICKET_LIST_COLUMNS)
    // Refunded by hand (refund owed, marked) or by an M-Pesa reversal (which clears needsRefund).
    .where('refundedAt', 'is not', null)
    .orderBy('refundedAt', 'desc')
    .orderBy('ticketId', 'desc')
    .limit(limit)
    .execute();
}

// ── the dashboard ───────────────────────────────────────────────────────────────────────────────────────────────

/** Per-status figures for tickets booked in [from, before): a range on ticket_createdAt, one day's rows. */
export async function totalsBookedBetween(h: DatabaseHandle, from: Date, before: Date): Promise<StatusTotals[]> {
  return ticketTotals(h, { createdFrom: from, createdBefore: before });
}

export async function failureReasonsBetween(db: Executor, from: Date, before: Date, limit: number): Promise<Array<{ reason: string | null; tickets: number }>> {
  const rows = await db
    .selectFrom('ticket')
    .select((eb) => ['failureReason', eb.fn.countAll().as('n')])
    .where('paymentStatus', '=', 'Failed')
    .where('createdAt', '>=', toDbTime(from))
    .where('createdAt', '<', toDbTime(before))
    .groupBy('failureReason')
    .orderBy(sql`count(*)`, 'desc')
    .orderBy('failureReason')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ reason: r.failureReason, tickets: Number(r.n) }));
}

export async function countPending(db: Executor): Promise<{ tickets: number; oldest: string | null }> {
  const r = await db
    .selectFrom('ticket')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('createdAt').as('oldest')])
    .where('paymentStatus', '=', 'Pending')
    .executeTakeFirstOrThrow();
  return { tickets: Number(r.n), oldest: (r.oldest as string | null) ?? null };
}

/**
 * Seats sold and shillings taken per movie, for the given movies only: Paid tickets whose seats are counted
 * (holdsTickets = 1; a late payment that found the show full is owed back, not revenue). Seeks
 * ticket_movie_status per movie, so the work is bounded by those shows' capacity, not by the table.
 */
export async function salesByMovie(db: Executor, movieIds: readonly number[]): Promise<Map<number, { quantity: number; amount: number; tickets: number }>> {
  const out = new Map<number, { quantity: number; amount: number; tickets: number }>();
  if (movieIds.length === 0) return out;
  const rows = await db
    .selectFrom('ticket')
    .select((eb) => ['movieId', eb.fn.countAll().as('n'), eb.fn.sum('quantity').as('quantity'), eb.fn.sum('totalAmount').as('amount')])
    .where('movieId', 'in', [...new Set(movieIds)])
    .where('paymentStatus', '=', 'Paid')
    .where('holdsTickets', '=', 1)
    .groupBy('movieId')
    .execute();
  for (const r of rows) out.set(r.movieId, { tickets: Number(r.n), quantity: Number(r.quantity ?? 0), amount: Number(r.amount ?? 0) });
  return out;
}
