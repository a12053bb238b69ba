import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { Db, Dialect } from '../core/db/database.js';
import type {
  AuditLog, CallbackInboxRow, Database, InboxOutcome, Movie, Notification, PaymentStatus, PushRequest, Ticket,
} from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';
import type { TimeKey } from './keyset.js';
import type { PhoneMatch } from './ticket-filter.js';

// The operator area's SQL. Every list is a keyset page over an index whose order is the list's order, so the database
// reads about `limit` index entries whatever the table's size (see migrations/002-admin-indexes.ts for which index
// serves which filter). Plain functions taking the database first, like the other repositories.

export interface AdminDb {
  db: Db;
  dialect: Dialect;
}

/** The filter in stored terms: UTC bounds, a resolved phone match. */
export interface TicketQuery {
  movieId?: number;
  status?: PaymentStatus;
  createdFrom?: Date;
  createdBefore?: Date;
  phone?: PhoneMatch;
}

export const TICKET_LIST_COLUMNS = [
  'ticketId', 'ref', 'movieId', 'customerName', 'phoneNumber', 'quantity', 'totalAmount', 'paymentStatus', 'holdsTickets',
  'mpesaReceiptNumber', 'transactionDate', 'failureReason', 'confirmedBy', 'needsRefund', 'refundedAt', 'createdAt',
] as const;
export type TicketListRow = Pick<Ticket, (typeof TICKET_LIST_COLUMNS)[number]>;

type TicketSelect<O> = SelectQueryBuilder<Database, 'ticket', O>;

/**
 * The last four digits of the phone, matching the index of migration 002 exactly: an expression index on SQLite, an
 * invisible generated column on MySQL/MariaDB (MariaDB cannot index an expression without a column).
 */
function phoneTail(h: AdminDb) {
  return h.dialect === 'sqlite' ? sql<string>`substr(phoneNumber, -4)` : sql<string>`phoneTail`;
}

function applyTicketFilter<O>(h: AdminDb, q: TicketSelect<O>, f: TicketQuery): TicketSelect<O> {
  if (f.movieId !== undefined) q = q.where('movieId', '=', f.movieId);
  if (f.status !== undefined) q = q.where('paymentStatus', '=', f.status);
  if (f.createdFrom) q = q.where('createdAt', '>=', toDbTime(f.createdFrom));
  if (f.createdBefore) q = q.where('createdAt', '<', toDbTime(f.createdBefore));
  if (f.phone?.kind === 'exact') q = q.where('phoneNumber', '=', f.phone.phone);
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
  h: AdminDb,
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
export async function ticketTotals(h: AdminDb, f: TicketQuery): Promise<StatusTotals[]> {
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

export async function moviesByIds(db: Db, ids: readonly number[]): Promise<Movie[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('movie').selectAll().where('movieId', 'in', [...new Set(ids)]).execute();
}

/** Movies for the filter's drop-down: shows from `since` on, latest first, capped (movie_showTime). */
export async function movieChoices(db: Db, since: Date, limit: number): Promise<Array<Pick<Movie, 'movieId' | 'title' | 'showTime'>>> {
  return db
    .selectFrom('movie')
    .select(['movieId', 'title', 'showTime'])
    .where('showTime', '>=', toDbTime(since))
    .orderBy('showTime', 'desc')
    .orderBy('movieId', 'desc')
    .limit(limit)
    .execute();
}

// ── the ticket page ─────────────────────────────────────────────────────────────────────────────────────────────

export async function ticketById(db: Db, ticketId: number): Promise<Ticket | undefined> {
  return db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).executeTakeFirst();
}

export async function ticketIdByRef(db: Db, ref: string): Promise<number | undefined> {
  const r = await db.selectFrom('ticket').select('ticketId').where('ref', '=', ref).executeTakeFirst();
  return r?.ticketId;
}

export async function pushesForTicket(db: Db, ticketId: number): Promise<PushRequest[]> {
  return db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticketId).orderBy('pushRequestId').execute();
}

/** Inbox rows tied to the ticket, and rows that name one of its CheckoutRequestIDs without being tied (yet). */
export async function inboxForTicket(db: Db, ticketId: number, checkoutRequestIds: readonly string[]): Promise<CallbackInboxRow[]> {
  const byTicket = db.selectFrom('callbackinbox').selectAll().where('ticketId', '=', ticketId);
  const rows = await byTicket.execute();
  if (checkoutRequestIds.length) {
    const seen = new Set(rows.map((r) => r.callbackId));
    const more = await db.selectFrom('callbackinbox').selectAll().where('checkoutRequestId', 'in', [...checkoutRequestIds]).execute();
    for (const r of more) if (!seen.has(r.callbackId)) rows.push(r);
  }
  return rows.sort((a, b) => a.callbackId - b.callbackId);
}

export async function notificationsForTicket(db: Db, ticketId: number): Promise<Notification[]> {
  return db.selectFrom('notification').selectAll().where('ticketId', '=', ticketId).orderBy('notificationId').execute();
}

export async function auditForTicket(db: Db, ticketId: number): Promise<AuditLog[]> {
  return db.selectFrom('auditlog').selectAll().where('ticketId', '=', ticketId).orderBy('auditId').execute();
}

export async function auditForCallback(db: Db, callbackId: number): Promise<AuditLog[]> {
  return db.selectFrom('auditlog').selectAll().where('callbackId', '=', callbackId).orderBy('auditId').execute();
}

// ── the callback inbox ──────────────────────────────────────────────────────────────────────────────────────────

/** Above this, the list shows the start of a body and links to the full one. */
export const BODY_PREVIEW_CHARS = 2000;

export type InboxListRow = Omit<CallbackInboxRow, 'body'> & { bodyPreview: string };

/** Newest first, by callbackId (rows are inserted as they arrive, so id order is arrival order). */
export async function inboxPage(
  db: Db,
  f: { outcome?: InboxOutcome },
  opts: { beforeId?: number; limit: number },
): Promise<InboxListRow[]> {
  let q = db
    .selectFrom('callbackinbox')
    .select([
      'callbackId', 'receivedAt', 'source', 'sourceIp', 'checkoutRequestId', 'outcome', 'detail', 'ticketId', 'processedAt',
      sql<string>`substr(body, 1, ${sql.lit(BODY_PREVIEW_CHARS + 1)})`.as('bodyPreview'),
    ]);
  if (f.outcome) q = q.where('outcome', '=', f.outcome);
  if (opts.beforeId !== undefined) q = q.where('callbackId', '<', opts.beforeId);
  return q.orderBy('callbackId', 'desc').limit(opts.limit).execute();
}

export async function inboxRow(db: Db, callbackId: number): Promise<CallbackInboxRow | undefined> {
  return db.selectFrom('callbackinbox').selectAll().where('callbackId', '=', callbackId).executeTakeFirst();
}

export async function countInbox(db: Db, outcome: InboxOutcome): Promise<number> {
  const r = await db.selectFrom('callbackinbox').select((eb) => eb.fn.countAll().as('n')).where('outcome', '=', outcome).executeTakeFirstOrThrow();
  return Number(r.n);
}

// ── refunds ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Paid tickets flagged for refund and not yet refunded, oldest first (the longest-waiting customer first). */
export async function refundsDue(db: Db, limit: number): Promise<TicketListRow[]> {
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

export async function countRefundsDue(db: Db): Promise<{ tickets: number; amount: number }> {
  const r = await db
    .selectFrom('ticket')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('totalAmount').as('amount')])
    .where('needsRefund', '=', 1)
    .where('refundedAt', 'is', null)
    .where('paymentStatus', '=', 'Paid')
    .executeTakeFirstOrThrow();
  return { tickets: Number(r.n), amount: Number(r.amount ?? 0) };
}

export async function recentlyRefunded(db: Db, limit: number): Promise<TicketListRow[]> {
  return db
    .selectFrom('ticket')
    .select(TICKET_LIST_COLUMNS)
    .where('needsRefund', '=', 1)
    .where('refundedAt', 'is not', null)
    .orderBy('refundedAt', 'desc')
    .orderBy('ticketId', 'desc')
    .limit(limit)
    .execute();
}

/** Sets refundedAt once, and only on a Paid ticket that is owed a refund; false when it was not (any more). */
export async function markRefunded(db: Db, ticketId: number, at: Date): Promise<boolean> {
  const r = await db
    .updateTable('ticket')
    .set({ refundedAt: toDbTime(at), updatedAt: toDbTime(at) })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Paid')
    .where('needsRefund', '=', 1)
    .where('refundedAt', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function insertAudit(
  db: Db,
  a: { at: Date; actor: string; action: string; ticketId?: number | null; callbackId?: number | null; detail?: string | null },
): Promise<void> {
  await db
    .insertInto('auditlog')
    .values({
      at: toDbTime(a.at),
      actor: a.actor.slice(0, 100),
      action: a.action.slice(0, 50),
      ticketId: a.ticketId ?? null,
      callbackId: a.callbackId ?? null,
      detail: a.detail ?? null,
    })
    .execute();
}

// ── the dashboard ───────────────────────────────────────────────────────────────────────────────────────────────

/** Per-status figures for tickets booked in [from, before): a range on ticket_createdAt, one day's rows. */
export async function totalsBookedBetween(h: AdminDb, from: Date, before: Date): Promise<StatusTotals[]> {
  return ticketTotals(h, { createdFrom: from, createdBefore: before });
}

export async function failureReasonsBetween(db: Db, from: Date, before: Date, limit: number): Promise<Array<{ reason: string | null; tickets: number }>> {
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

export async function countPending(db: Db): Promise<{ tickets: number; oldest: string | null }> {
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
export async function salesByMovie(db: Db, movieIds: readonly number[]): Promise<Map<number, { quantity: number; amount: number; tickets: number }>> {
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

/** Shows from `from` on, soonest first (movie_showTime). */
export async function moviesShowingFrom(db: Db, from: Date, limit: number): Promise<Movie[]> {
  return db.selectFrom('movie').selectAll().where('showTime', '>=', toDbTime(from)).orderBy('showTime').orderBy('movieId').limit(limit).execute();
}

/** Shows before `before`, latest first. */
export async function moviesShownBefore(db: Db, before: Date, limit: number): Promise<Movie[]> {
  return db.selectFrom('movie').selectAll().where('showTime', '<', toDbTime(before)).orderBy('showTime', 'desc').orderBy('movieId', 'desc').limit(limit).execute();
}
