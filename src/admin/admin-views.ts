import type { DatabaseHandle } from '../core/db/database.js';
import type { Movie, PaymentStatus } from '../core/db/schema.js';
import { maskPhone } from '../daraja/phone.js';
import { moviesByIds } from '../store/movie.repository.js';
import type { TicketListRow } from '../store/ticket-lists.repository.js';
import { timeView, timeViewOrNull, type TimeView } from './nairobi.js';

/** What every read model of the operator area reads from: the database and the clock. */
export interface AdminContext {
  database: DatabaseHandle;
  now: () => Date;
}

export const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;

export const kes = (n: number) => `KES ${n.toLocaleString('en-KE')}`;

/** A list's page size from the query string: 50 unless a sane number is asked for, at most 200. */
export function pageSize(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, n));
}

/** A ticket as the operator's lists show it. */
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
  /** Daraja's ResultCode of a failure (the operator's words sit beside the customer's sentence). */
  resultCode: string | null;
  confirmedBy: string | null;
  /** 'due' while a refund is owed, 'refunded' once given back (by an M-Pesa reversal or marked by hand). */
  refund: 'due' | 'refunded' | null;
  refunded: TimeView | null;
  ticketCode: string | null;
  /** People let in at the door. */
  admitted: number;
}

export function ticketRowView(t: TicketListRow, movieTitle: string): TicketRowView {
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
    resultCode: t.resultCode,
    confirmedBy: t.confirmedBy,
    refund: t.refundedAt ? 'refunded' : t.needsRefund ? 'due' : null,
    refunded: timeViewOrNull(t.refundedAt),
    ticketCode: t.paymentStatus === 'Paid' ? t.ticketCode : null,
    admitted: t.admitted,
  };
}

/** Titles of the movies these ids name, for list rows. */
export async function movieTitles(ctx: AdminContext, ids: number[]): Promise<Map<number, string>> {
  return new Map((await moviesByIds(ctx.database.db, ids)).map((m) => [m.movieId, m.title]));
}

/** List rows with their movies' titles. */
export async function ticketRows(ctx: AdminContext, rows: TicketListRow[]): Promise<TicketRowView[]> {
  const titles = await movieTitles(ctx, rows.map((r) => r.movieId));
  return rows.map((t) => ticketRowView(t, titles.get(t.movieId) ?? `Movie ${t.movieId}`));
}

export function movieLabel(m: Pick<Movie, 'title' | 'showTime'>): string {
  return `${m.title} (${timeView(m.showTime).stamp.slice(0, 16)})`;
}

/** A stored body as pages show it. */
export interface BodyView {
  text: string;
  isJson: boolean;
  truncated: boolean;
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
