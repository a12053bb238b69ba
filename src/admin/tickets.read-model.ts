import { movieChoices, moviesByIds } from '../store/movie.repository.js';
import { ticketPage, ticketTotals, type StatusTotals, type TicketQuery } from '../store/ticket-lists.repository.js';
import { movieLabel, pageSize, ticketRows, type AdminContext, type TicketRowView } from './admin-views.js';
import { decodeTimeKey, encodeTimeKey } from './keyset.js';
import { addDays, nairobiDayStart } from './nairobi.js';
import { PAYMENT_STATUSES, parseTicketFilter, type ParsedTicketFilter, type TicketFilter } from './ticket-filter.js';

/** The tickets list page (/admin/tickets) and its totals. */

export interface TicketsPage {
  parsed: ParsedTicketFilter;
  rows: TicketRowView[];
  /** The cursor of the page after this one, when there is one. */
  next?: string;
  firstPage: boolean;
  limit: number;
  movies: Array<{ movieId: number; label: string }>;
  /** The totals are counted as the page loads only when the filter bounds the rows; otherwise on request. */
  totalsAuto: boolean;
}

/** Up to this many days of bookings, the totals are counted without asking (a month is ~85 000 rows at 1M a year). */
export const AUTO_TOTALS_DAYS = 31;

export interface TotalsView {
  byStatus: Array<StatusTotals & { statusClass: string }>;
  all: { tickets: number; quantity: number; amount: number };
  paid: { tickets: number; quantity: number; amount: number; soldQuantity: number; soldAmount: number };
}

/** Resolves the filter to stored terms: Nairobi dates become a UTC window [from 00:00, to+1 00:00). */
export function toTicketQuery(f: TicketFilter): TicketQuery {
  return {
    movieId: f.movieId,
    status: f.status,
    createdFrom: f.from ? nairobiDayStart(f.from) : undefined,
    createdBefore: f.to ? addDays(nairobiDayStart(f.to), 1) : undefined,
    phone: f.phone,
    codeOrReceipt: f.find,
  };
}

/** One page of the tickets list. A bad filter gives its field messages and no rows; a bad cursor is a 400. */
export async function ticketsPage(ctx: AdminContext, query: Record<string, unknown>): Promise<TicketsPage> {
  const parsed = parseTicketFilter(query);
  const limit = pageSize(query.limit);
  const cursor = typeof query.after === 'string' && query.after !== '' ? decodeTimeKey(query.after) : undefined;
  const movies = await movieDropDown(ctx, parsed.filter.movieId);
  if (Object.keys(parsed.errors).length) return { parsed, rows: [], firstPage: true, limit, movies, totalsAuto: false };

  const found = await ticketPage(ctx.database, toTicketQuery(parsed.filter), { after: cursor, limit: limit + 1 });
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return {
    parsed,
    rows: await ticketRows(ctx, page),
    next: found.length > limit && last ? encodeTimeKey({ at: last.createdAt, id: last.ticketId }) : undefined,
    firstPage: cursor === undefined,
    limit,
    movies,
    totalsAuto: totalsAreCheap(ctx, parsed.filter),
  };
}

/** Totals for everything the filter matches. A full aggregate, so the list page asks for it separately. */
export async function ticketsTotals(ctx: AdminContext, query: Record<string, unknown>): Promise<{ parsed: ParsedTicketFilter; totals?: TotalsView }> {
  const parsed = parseTicketFilter(query);
  if (Object.keys(parsed.errors).length) return { parsed };
  const rows = await ticketTotals(ctx.database, toTicketQuery(parsed.filter));
  const byStatus = PAYMENT_STATUSES.map((s) => {
    const r = rows.find((x) => x.paymentStatus === s);
    return { paymentStatus: s, tickets: 0, quantity: 0, amount: 0, soldQuantity: 0, soldAmount: 0, ...r, statusClass: s.toLowerCase() };
  });
  const sum = (k: 'tickets' | 'quantity' | 'amount') => byStatus.reduce((a, r) => a + r[k], 0);
  const paid = byStatus.find((r) => r.paymentStatus === 'Paid')!;
  return {
    parsed,
    totals: {
      byStatus,
      all: { tickets: sum('tickets'), quantity: sum('quantity'), amount: sum('amount') },
      paid: { tickets: paid.tickets, quantity: paid.quantity, amount: paid.amount, soldQuantity: paid.soldQuantity, soldAmount: paid.soldAmount },
    },
  };
}

/**
 * Whether the totals touch a bounded number of rows: one customer's phone, one show (its capacity), or bookings of at
 * most AUTO_TOTALS_DAYS days. Everything else (all time, a status alone) is a full scan: 0.8 s on SQLite and 2 s on
 * MariaDB at a million tickets, so it is counted only when the operator asks.
 */
function totalsAreCheap(ctx: AdminContext, f: TicketFilter): boolean {
  if (f.phone || f.find || f.movieId !== undefined) return true;
  if (!f.from) return false;
  const end = f.to ? addDays(nairobiDayStart(f.to), 1) : ctx.now();
  return end.getTime() - nairobiDayStart(f.from).getTime() <= AUTO_TOTALS_DAYS * 86_400_000;
}

/**
 * The movie drop-down: shows of the last 30 days and upcoming ones, at most 60, so the page stays the same size however
 * long the cinema has run. Older shows are reached from the movies page ("Tickets" link), which selects them here.
 */
async function movieDropDown(ctx: AdminContext, selected?: number): Promise<TicketsPage['movies']> {
  const list = await movieChoices(ctx.database.db, addDays(ctx.now(), -30), 60);
  if (selected !== undefined && !list.some((m) => m.movieId === selected)) {
    const [m] = await moviesByIds(ctx.database.db, [selected]);
    if (m) list.unshift(m);
  }
  return list.map((m) => ({ movieId: m.movieId, label: movieLabel(m) }));
}
