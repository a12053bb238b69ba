import type { InboxOutcome, Movie, PaymentStatus, Ticket } from '../core/db/schema.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { maskPhone } from '../daraja/phone.js';
import { toMovieView, type MovieService, type MovieView } from '../movies/movie.service.js';
import {
  BODY_PREVIEW_CHARS, auditForCallback, auditForTicket, countInbox, countPending, countRefundsDue, failureReasonsBetween,
  inboxForTicket, inboxPage, inboxRow, insertAudit, markRefunded, movieChoices, moviesByIds, moviesShowingFrom,
  moviesShownBefore, notificationsForTicket, pushesForTicket, recentlyRefunded, refundsDue, salesByMovie, ticketById,
  ticketIdByRef, ticketPage, ticketTotals, totalsBookedBetween,
  type AdminDb, type InboxListRow, type StatusTotals, type TicketListRow, type TicketQuery,
} from './admin.repository.js';
import { barChart, type BarChart } from './bar-chart.js';
import { CSV_BOM, csvRow } from './csv.js';
import { decodeIdCursor, decodeTimeKey, encodeTimeKey } from './keyset.js';
import { addDays, nairobiDayOf, nairobiDayStart, timeView, timeViewOrNull, type TimeView } from './nairobi.js';
import { PAYMENT_STATUSES, parseTicketFilter, type ParsedTicketFilter, type TicketFilter } from './ticket-filter.js';

/** What the payments feature offers the operator: apply an unmatched callback to a ticket, as a real one would be. */
export interface CallbackAssigner {
  assignCallback(callbackId: number, ticketId: number, actor: string): Promise<InboxOutcome>;
}

export const INBOX_OUTCOMES: readonly InboxOutcome[] = ['applied', 'duplicate', 'unmatched', 'rejected', 'invalid', 'mismatch', 'received'];

export const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;
const CSV_BATCH = 1000;

const kes = (n: number) => `KES ${n.toLocaleString('en-KE')}`;

export interface TicketRowView {
  ticketId: number;
  ref: string;
  created: TimeView;
  movieId: number;
  movieTitle: string;
  customerName: string;
  phone: string;
  phoneMasked: string;
  quantity: number;
  amount: number;
  status: PaymentStatus;
  statusClass: string;
  receipt: string | null;
  transaction: TimeView | null;
  failureReason: string | null;
  confirmedBy: string | null;
  /** 'due' while a refund is owed, 'refunded' once marked. */
  refund: 'due' | 'refunded' | null;
  refunded: TimeView | null;
}

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

export interface TimelineEntry {
  at: TimeView;
  kind: 'booked' | 'push' | 'callback' | 'query' | 'operator' | 'notification' | 'audit';
  title: string;
  facts: Array<{ label: string; value: string }>;
  body?: BodyView;
  callbackId?: number;
}

export interface BodyView {
  text: string;
  isJson: boolean;
  truncated: boolean;
}

export interface CallbackView {
  callbackId: number;
  received: TimeView;
  processed: TimeView | null;
  source: string;
  sourceIp: string | null;
  checkoutRequestId: string | null;
  outcome: InboxOutcome;
  outcomeClass: string;
  detail: string | null;
  ticketId: number | null;
  body: BodyView;
  canAssign: boolean;
}

/** Reads a body for display: pretty-printed when it is JSON, as received otherwise. The view escapes it. */
export function bodyView(raw: string, truncated = false): BodyView {
  if (!truncated) {
    try {
      return { text: JSON.stringify(JSON.parse(raw), null, 2), isJson: true, truncated };
    } catch {
      // not JSON: shown exactly as it came
    }
  }
  return { text: raw, isJson: false, truncated };
}

function movieLabel(m: Pick<Movie, 'title' | 'showTime'>): string {
  return `${m.title} (${timeView(m.showTime).stamp.slice(0, 16)})`;
}

export class AdminService {
  constructor(
    private readonly h: AdminDb,
    private readonly movies: MovieService,
    private readonly now: () => Date,
    private readonly assigner: () => CallbackAssigner | undefined,
  ) {}

  // ── tickets ───────────────────────────────────────────────────────────────────────────────────────────────────

  /** Resolves the filter to stored terms: Nairobi dates become a UTC window [from 00:00, to+1 00:00). */
  static toQuery(f: TicketFilter): TicketQuery {
    return {
      movieId: f.movieId,
      status: f.status,
      createdFrom: f.from ? nairobiDayStart(f.from) : undefined,
      createdBefore: f.to ? addDays(nairobiDayStart(f.to), 1) : undefined,
      phone: f.phone,
    };
  }

  /** One page of the tickets list. A bad filter gives its field messages and no rows; a bad cursor is a 400. */
  async tickets(query: Record<string, unknown>): Promise<TicketsPage> {
    const parsed = parseTicketFilter(query);
    const limit = pageSize(query.limit);
    const cursor = typeof query.after === 'string' && query.after !== '' ? decodeTimeKey(query.after) : undefined;
    const movies = await this.movieChoices(parsed.filter.movieId);
    if (Object.keys(parsed.errors).length) return { parsed, rows: [], firstPage: true, limit, movies, totalsAuto: false };

    const found = await ticketPage(this.h, AdminService.toQuery(parsed.filter), { after: cursor, limit: limit + 1 });
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return {
      parsed,
      rows: await this.ticketRows(page),
      next: found.length > limit && last ? encodeTimeKey({ at: last.createdAt, id: last.ticketId }) : undefined,
      firstPage: cursor === undefined,
      limit,
      movies,
      totalsAuto: this.totalsAreCheap(parsed.filter),
    };
  }

  /**
   * Whether the totals touch a bounded number of rows: one customer's phone, one show (its capacity), or bookings of at
   * most AUTO_TOTALS_DAYS days. Everything else (all time, a status alone) is a full scan: 0.8 s on SQLite and 2 s on
   * MariaDB at a million tickets, so it is counted only when the operator asks.
   */
  private totalsAreCheap(f: TicketFilter): boolean {
    if (f.phone || f.movieId !== undefined) return true;
    if (!f.from) return false;
    const end = f.to ? addDays(nairobiDayStart(f.to), 1) : this.now();
    return end.getTime() - nairobiDayStart(f.from).getTime() <= AUTO_TOTALS_DAYS * 86_400_000;
  }

  /** Totals for everything the filter matches. A full aggregate, so the list page asks for it separately. */
  async ticketTotals(query: Record<string, unknown>): Promise<{ parsed: ParsedTicketFilter; totals?: TotalsView }> {
    const parsed = parseTicketFilter(query);
    if (Object.keys(parsed.errors).length) return { parsed };
    const rows = await ticketTotals(this.h, AdminService.toQuery(parsed.filter));
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
   * The movie drop-down: shows of the last 30 days and upcoming ones, at most 60, so the page stays the same size however
   * long the cinema has run. Older shows are reached from the movies page ("Tickets" link), which selects them here.
   */
  private async movieChoices(selected?: number): Promise<TicketsPage['movies']> {
    const list = await movieChoices(this.h.db, addDays(this.now(), -30), 60);
    if (selected !== undefined && !list.some((m) => m.movieId === selected)) {
      const [m] = await moviesByIds(this.h.db, [selected]);
      if (m) list.unshift(m);
    }
    return list.map((m) => ({ movieId: m.movieId, label: movieLabel(m) }));
  }

  private async ticketRows(rows: TicketListRow[]): Promise<TicketRowView[]> {
    const titles = await this.movieTitles(rows.map((r) => r.movieId));
    return rows.map((t) => ticketRowView(t, titles.get(t.movieId) ?? `Movie ${t.movieId}`));
  }

  private async movieTitles(ids: number[]): Promise<Map<number, string>> {
    return new Map((await moviesByIds(this.h.db, ids)).map((m) => [m.movieId, m.title]));
  }

  /** The ticket and everything that happened to it, oldest first. */
  async ticket(ticketId: number): Promise<{ ticket: TicketRowView & { email: string | null; resultCode: string | null; pendingSince: TimeView; updated: TimeView }; timeline: TimelineEntry[] }> {
    const t = Number.isSafeInteger(ticketId) && ticketId > 0 ? await ticketById(this.h.db, ticketId) : undefined;
    if (!t) throw new NotFoundError('ticket');
    const [pushes, notifications, audit, titles] = await Promise.all([
      pushesForTicket(this.h.db, ticketId),
      notificationsForTicket(this.h.db, ticketId),
      auditForTicket(this.h.db, ticketId),
      this.movieTitles([t.movieId]),
    ]);
    const inbox = await inboxForTicket(this.h.db, ticketId, pushes.flatMap((p) => (p.checkoutRequestId ? [p.checkoutRequestId] : [])));
    return {
      ticket: {
        ...ticketRowView(t, titles.get(t.movieId) ?? `Movie ${t.movieId}`),
        email: t.email,
        resultCode: t.resultCode,
        pendingSince: timeView(t.pendingSince),
        updated: timeView(t.updatedAt),
      },
      timeline: timeline(t, pushes, inbox, notifications, audit),
    };
  }

  /** A ticket by row id or by its public reference (what a customer can show from their ticket page). */
  async resolveTicket(input: string): Promise<number | undefined> {
    const s = input.trim();
    if (/^\d{1,12}$/.test(s)) {
      const t = await ticketById(this.h.db, Number(s));
      return t?.ticketId;
    }
    // A pasted ticket link works too: its last path segment is the reference.
    const ref = s.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? '';
    if (!/^[A-Za-z0-9_-]{10,32}$/.test(ref)) return undefined;
    return ticketIdByRef(this.h.db, ref);
  }

  // ── the callback inbox ────────────────────────────────────────────────────────────────────────────────────────

  async callbacks(query: Record<string, unknown>): Promise<{
    outcome: string; outcomeError?: string; rows: CallbackView[]; next?: string; firstPage: boolean; limit: number; outcomes: readonly InboxOutcome[];
  }> {
    const outcome = typeof query.outcome === 'string' ? query.outcome.trim() : '';
    const limit = pageSize(query.limit);
    const before = typeof query.before === 'string' && query.before !== '' ? decodeIdCursor(query.before) : undefined;
    const base = { outcome, firstPage: before === undefined, limit, outcomes: INBOX_OUTCOMES };
    if (outcome !== '' && !(INBOX_OUTCOMES as readonly string[]).includes(outcome)) {
      return { ...base, outcomeError: 'Choose one of the outcomes in the list.', rows: [] };
    }
    const found = await inboxPage(this.h.db, { outcome: (outcome || undefined) as InboxOutcome | undefined }, { beforeId: before, limit: limit + 1 });
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return {
      ...base,
      rows: page.map((r) => callbackView(r, r.bodyPreview, r.bodyPreview.length > BODY_PREVIEW_CHARS)),
      next: found.length > limit && last ? String(last.callbackId) : undefined,
    };
  }

  async callback(callbackId: number): Promise<{ callback: CallbackView; audit: Array<{ at: TimeView; actor: string; action: string; detail: string | null; ticketId: number | null }> }> {
    const row = Number.isSafeInteger(callbackId) && callbackId > 0 ? await inboxRow(this.h.db, callbackId) : undefined;
    if (!row) throw new NotFoundError('callback');
    const audit = await auditForCallback(this.h.db, callbackId);
    return {
      callback: callbackView(row, row.body, false),
      audit: audit.map((a) => ({ at: timeView(a.at), actor: a.actor, action: a.action, detail: a.detail, ticketId: a.ticketId })),
    };
  }

  /**
   * Applies an unmatched callback to the ticket the operator names (id or reference) through the payments feature,
   * which records the audit row. Throws ValidationError for an unknown ticket, ConflictError when the row is no longer
   * unmatched.
   */
  async assignCallback(callbackId: number, ticketInput: string, actor: string): Promise<{ outcome: InboxOutcome; ticketId: number }> {
    const row = Number.isSafeInteger(callbackId) && callbackId > 0 ? await inboxRow(this.h.db, callbackId) : undefined;
    if (!row) throw new NotFoundError('callback');
    if (row.outcome !== 'unmatched') {
      throw new ConflictError('CALLBACK_NOT_UNMATCHED', `This callback is already "${row.outcome}". Only an unmatched callback can be assigned to a ticket.`);
    }
    if (ticketInput.trim() === '') throw new ValidationError({ ticket: 'Enter the ticket number or its reference.' });
    const ticketId = await this.resolveTicket(ticketInput);
    if (ticketId === undefined) throw new ValidationError({ ticket: 'No ticket has that number or reference.' });
    const assigner = this.assigner();
    if (!assigner) {
      throw new AppError('ASSIGN_UNAVAILABLE', 'payments service does not offer assignCallback', {
        status: 503,
        publicMessage: 'Assigning callbacks is not available in this version of the app yet. Nothing was changed.',
      });
    }
    const outcome = await assigner.assignCallback(callbackId, ticketId, actor);
    return { outcome, ticketId };
  }

  // ── refunds ───────────────────────────────────────────────────────────────────────────────────────────────────

  async refunds(): Promise<{ due: TicketRowView[]; dueTotal: { tickets: number; amount: number }; recent: TicketRowView[]; shownLimit: number }> {
    const shownLimit = 200;
    const [due, dueTotal, recent] = await Promise.all([refundsDue(this.h.db, shownLimit), countRefundsDue(this.h.db), recentlyRefunded(this.h.db, 20)]);
    return { due: await this.ticketRows(due), dueTotal, recent: await this.ticketRows(recent), shownLimit };
  }

  /** Records that the money was given back: sets refundedAt once and writes who did it to the audit log. */
  async markRefunded(ticketId: number, actor: string, note: string): Promise<{ ref: string }> {
    const t = Number.isSafeInteger(ticketId) && ticketId > 0 ? await ticketById(this.h.db, ticketId) : undefined;
    if (!t) throw new NotFoundError('ticket');
    const cleanNote = note.trim().slice(0, 200);
    const at = this.now();
    // The conditional update decides; the audit row is written in the same transaction, so neither exists alone.
    const done = await this.h.db.transaction().execute(async (tx) => {
      if (!(await markRefunded(tx, ticketId, at))) return false;
      await insertAudit(tx, {
        at, actor, action: 'refund.marked', ticketId,
        detail: JSON.stringify({ amount: t.totalAmount, phoneNumber: t.phoneNumber, receipt: t.mpesaReceiptNumber, note: cleanNote || null }),
      });
      return true;
    });
    if (!done) {
      const why = t.refundedAt ? 'It was already marked refunded.' : 'It is not a paid ticket waiting for a refund.';
      throw new ConflictError('REFUND_NOT_DUE', `Ticket ${t.ticketId} was not changed. ${why}`);
    }
    return { ref: t.ref };
  }

  // ── movies ────────────────────────────────────────────────────────────────────────────────────────────────────

  async movieList(): Promise<{ upcoming: AdminMovieRow[]; past: AdminMovieRow[]; pastLimit: number }> {
    const now = this.now();
    const pastLimit = 50;
    const [upcoming, past] = await Promise.all([moviesShowingFrom(this.h.db, now, 500), moviesShownBefore(this.h.db, now, pastLimit)]);
    const sales = await salesByMovie(this.h.db, [...upcoming, ...past].map((m) => m.movieId));
    const row = (m: Movie): AdminMovieRow => {
      const v = toMovieView(m, now);
      const s = sales.get(m.movieId) ?? { tickets: 0, quantity: 0, amount: 0 };
      return { ...v, taken: m.ticketsHeld, sold: s.quantity, revenue: s.amount };
    };
    return { upcoming: upcoming.map(row), past: past.map(row), pastLimit };
  }

  /** The edit form's values: the show time as Nairobi wall clock, as a datetime-local input wants it. */
  async movieForm(movieId: number): Promise<{ movie: MovieView; values: Record<string, string> }> {
    const movie = await this.movies.get(movieId);
    return {
      movie,
      values: {
        title: movie.title,
        description: movie.description,
        showTime: movie.showTime.slice(0, 16),
        price: String(movie.price),
        maximumTickets: String(movie.maximumTickets),
        imageUrl: movie.imageUrl ?? '',
      },
    };
  }

  async createMovie(input: Record<string, unknown>, actor: string): Promise<number> {
    const movieId = await this.movies.create(input);
    await insertAudit(this.h.db, { at: this.now(), actor, action: 'movie.created', detail: JSON.stringify({ movieId, title: String(input.title ?? '').trim() }) });
    return movieId;
  }

  async updateMovie(movieId: number, input: Record<string, unknown>, actor: string): Promise<void> {
    await this.movies.update(movieId, input);
    await insertAudit(this.h.db, {
      at: this.now(), actor, action: 'movie.updated',
      detail: JSON.stringify({ movieId, title: String(input.title ?? '').trim(), maximumTickets: String(input.maximumTickets ?? ''), price: String(input.price ?? '') }),
    });
  }

  // ── the dashboard ─────────────────────────────────────────────────────────────────────────────────────────────

  async dashboard(): Promise<Dashboard> {
    const now = this.now();
    const day = nairobiDayOf(now);
    const [byStatus, reasons, pending, refunds, unmatched, shows] = await Promise.all([
      totalsBookedBetween(this.h, day.start, day.end),
      failureReasonsBetween(this.h.db, day.start, day.end, 10),
      countPending(this.h.db),
      countRefundsDue(this.h.db),
      countInbox(this.h.db, 'unmatched'),
      moviesShowingFrom(this.h.db, addDays(day.start, -7), CHART_SHOWS),
    ]);
    const get = (s: PaymentStatus) => byStatus.find((r) => r.paymentStatus === s);
    const sales = await salesByMovie(this.h.db, shows.map((m) => m.movieId));
    const revenue = shows.map((m) => {
      const s = sales.get(m.movieId) ?? { tickets: 0, quantity: 0, amount: 0 };
      return { movieId: m.movieId, title: m.title, show: timeView(m.showTime), tickets: s.tickets, seats: s.quantity, amount: s.amount };
    });
    return {
      date: day.date,
      dateText: timeView(now).text.replace(/,?\s*\d{1,2}:\d{2}$/, ''),
      today: {
        booked: byStatus.reduce((a, r) => a + r.tickets, 0),
        paidTickets: get('Paid')?.tickets ?? 0,
        seatsSold: get('Paid')?.soldQuantity ?? 0,
        revenue: get('Paid')?.soldAmount ?? 0,
        pending: get('Pending')?.tickets ?? 0,
        failed: get('Failed')?.tickets ?? 0,
      },
      failedReasons: reasons.map((r) => ({ reason: r.reason ?? 'No reason recorded', tickets: r.tickets })),
      pendingNow: { tickets: pending.tickets, oldest: timeViewOrNull(pending.oldest) },
      refundsDue: refunds,
      unmatchedCallbacks: unmatched,
      revenue,
      chart: barChart(
        revenue.map((r) => ({
          label: `${r.title} · ${r.show.text}`,
          value: r.amount,
          valueLabel: kes(r.amount),
          description: `${r.title}, ${r.show.text}: ${kes(r.amount)} from ${r.seats} ${r.seats === 1 ? 'seat' : 'seats'}`,
        })),
      ),
      chartShows: CHART_SHOWS,
    };
  }

  // ── CSV ───────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Paid tickets under the filter, oldest first, as CSV text in chunks (keyset batches: memory stays flat). */
  async *paymentsCsv(filter: TicketFilter): AsyncGenerator<string> {
    yield CSV_BOM + csvRow(CSV_HEADER);
    if (filter.status && filter.status !== 'Paid') return;
    const q = { ...AdminService.toQuery(filter), status: 'Paid' as const };
    const titles = new Map<number, string>();
    let after: { at: string; id: number } | undefined;
    for (;;) {
      const rows = await ticketPage(this.h, q, { after, limit: CSV_BATCH, direction: 'asc' });
      if (rows.length === 0) return;
      const missing = [...new Set(rows.map((r) => r.movieId))].filter((id) => !titles.has(id));
      for (const m of await moviesByIds(this.h.db, missing)) titles.set(m.movieId, m.title);
      let chunk = '';
      for (const t of rows) {
        chunk += csvRow([
          t.mpesaReceiptNumber,
          t.transactionDate ? timeView(t.transactionDate).stamp : null,
          t.phoneNumber,
          t.totalAmount,
          t.ref,
          t.ticketId,
          titles.get(t.movieId) ?? `Movie ${t.movieId}`,
          t.quantity,
          t.customerName,
          t.confirmedBy,
          t.needsRefund ? (t.refundedAt ? `refunded ${timeView(t.refundedAt).stamp}` : 'refund due') : null,
        ]);
      }
      yield chunk;
      const last = rows[rows.length - 1]!;
      if (rows.length < CSV_BATCH) return;
      after = { at: last.createdAt, id: last.ticketId };
    }
  }
}

export const CSV_HEADER = [
  'Receipt', 'Transaction date (Nairobi)', 'Phone', 'Amount (KES)', 'Ticket ref', 'Ticket ID', 'Movie', 'Tickets', 'Customer',
  'Confirmed by', 'Refund',
] as const;

const CHART_SHOWS = 15;

export interface AdminMovieRow extends MovieView {
  /** Seats held by Pending tickets plus sold (movie.ticketsHeld). */
  taken: number;
  sold: number;
  revenue: number;
}

export interface Dashboard {
  date: string;
  dateText: string;
  today: { booked: number; paidTickets: number; seatsSold: number; revenue: number; pending: number; failed: number };
  failedReasons: Array<{ reason: string; tickets: number }>;
  pendingNow: { tickets: number; oldest: TimeView | null };
  refundsDue: { tickets: number; amount: number };
  unmatchedCallbacks: number;
  revenue: Array<{ movieId: number; title: string; show: TimeView; tickets: number; seats: number; amount: number }>;
  chart: BarChart;
  chartShows: number;
}

function pageSize(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, n));
}

function ticketRowView(t: TicketListRow, movieTitle: string): TicketRowView {
  return {
    ticketId: t.ticketId,
    ref: t.ref,
    created: timeView(t.createdAt),
    movieId: t.movieId,
    movieTitle,
    customerName: t.customerName,
    phone: t.phoneNumber,
    phoneMasked: maskPhone(t.phoneNumber),
    quantity: t.quantity,
    amount: t.totalAmount,
    status: t.paymentStatus,
    statusClass: t.paymentStatus.toLowerCase(),
    receipt: t.mpesaReceiptNumber,
    transaction: timeViewOrNull(t.transactionDate),
    failureReason: t.failureReason,
    confirmedBy: t.confirmedBy,
    refund: t.needsRefund ? (t.refundedAt ? 'refunded' : 'due') : null,
    refunded: timeViewOrNull(t.refundedAt),
  };
}

function callbackView(r: Omit<InboxListRow, 'bodyPreview'>, body: string, truncated: boolean): CallbackView {
  return {
    callbackId: r.callbackId,
    received: timeView(r.receivedAt),
    processed: timeViewOrNull(r.processedAt),
    source: r.source,
    sourceIp: r.sourceIp,
    checkoutRequestId: r.checkoutRequestId,
    outcome: r.outcome,
    outcomeClass: r.outcome,
    detail: r.detail,
    ticketId: r.ticketId,
    body: bodyView(truncated ? body.slice(0, BODY_PREVIEW_CHARS) : body, truncated),
    canAssign: r.outcome === 'unmatched',
  };
}

const KIND_ORDER: Record<TimelineEntry['kind'], number> = { booked: 0, push: 1, callback: 2, query: 2, operator: 2, notification: 3, audit: 4 };

function timeline(
  t: Ticket,
  pushes: Awaited<ReturnType<typeof pushesForTicket>>,
  inbox: Awaited<ReturnType<typeof inboxForTicket>>,
  notifications: Awaited<ReturnType<typeof notificationsForTicket>>,
  audit: Awaited<ReturnType<typeof auditForTicket>>,
): TimelineEntry[] {
  const entries: Array<TimelineEntry & { sortAt: string; seq: number }> = [];
  const add = (sortAt: string, seq: number, e: TimelineEntry) => entries.push({ ...e, sortAt, seq });
  const fact = (label: string, value: string | number | null | undefined) =>
    value === null || value === undefined || value === '' ? [] : [{ label, value: String(value) }];

  add(t.createdAt, 0, {
    at: timeView(t.createdAt),
    kind: 'booked',
    title: `Booked: ${t.quantity} ${t.quantity === 1 ? 'ticket' : 'tickets'}, ${kes(t.totalAmount)}`,
    facts: [...fact('Customer', t.customerName), ...fact('Phone', t.phoneNumber), ...fact('Email', t.email)],
  });
  pushes.forEach((p, i) => {
    add(p.createdAt, p.pushRequestId, {
      at: timeView(p.createdAt),
      kind: 'push',
      title: `STK push attempt ${i + 1}: ${p.status}`,
      facts: [
        ...fact('CheckoutRequestID', p.checkoutRequestId),
        ...fact('MerchantRequestID', p.merchantRequestId),
        ...fact('Phone', p.phoneNumber),
        ...fact('Amount', kes(p.amount)),
        ...fact('Answered', p.answeredAt ? timeView(p.answeredAt).stamp : null),
        ...fact('Error code', p.errorCode),
        ...fact('Error', p.errorMessage),
        ...fact('Result code', p.resultCode),
        ...fact('Result', p.resultDesc),
        ...fact('Completed', p.completedAt ? timeView(p.completedAt).stamp : null),
      ],
    });
  });
  for (const c of inbox) {
    const what = c.source === 'query' ? 'STK Query answer' : c.source === 'operator' ? 'Operator action' : 'Callback';
    add(c.receivedAt, c.callbackId, {
      at: timeView(c.receivedAt),
      kind: c.source,
      title: `${what} #${c.callbackId}: ${c.outcome}`,
      facts: [...fact('Detail', c.detail), ...fact('CheckoutRequestID', c.checkoutRequestId), ...fact('From', c.sourceIp)],
      body: bodyView(c.body),
      callbackId: c.callbackId,
    });
  }
  for (const n of notifications) {
    add(n.createdAt, n.notificationId, {
      at: timeView(n.createdAt),
      kind: 'notification',
      title: `Notification (${n.kind}) by ${n.channel}: ${n.status}`,
      facts: [
        ...fact('To', n.recipient),
        ...fact('Attempts', n.attempts),
        ...fact('Sent', n.sentAt ? timeView(n.sentAt).stamp : null),
        ...fact('Last error', n.lastError),
      ],
    });
  }
  for (const a of audit) {
    add(a.at, a.auditId, {
      at: timeView(a.at),
      kind: 'audit',
      title: `${a.action} by ${a.actor}`,
      facts: [...fact('Callback', a.callbackId ? `#${a.callbackId}` : null), ...fact('Detail', a.detail)],
    });
  }
  // Stored times sort as text; equal times keep the natural order of the story (booked, push, answer, notice, audit).
  entries.sort((x, y) => (x.sortAt < y.sortAt ? -1 : x.sortAt > y.sortAt ? 1 : KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || x.seq - y.seq));
  return entries.map(({ sortAt: _s, seq: _q, ...e }) => e);
}
