import type { PaymentStatus } from '../core/db/schema.js';
import { countInbox } from '../store/callback-inbox.repository.js';
import { moviesShowingFrom } from '../store/movie.repository.js';
import {
  countPending, countRefundsDue, failureReasonsBetween, salesByMovie, totalsBookedBetween,
} from '../store/ticket-lists.repository.js';
import { kes, type AdminContext } from './admin-views.js';
import { barChart, type BarChart } from './bar-chart.js';
import { addDays, nairobiDayOf, timeView, timeViewOrNull, type TimeView } from './nairobi.js';

/** The dashboard (/admin): today's sales, what needs an operator, and revenue per recent show as a chart. */

const CHART_SHOWS = 15;

export interface Dashboard {
  date: string;
  dateText: string;
  today: { booked: number; paidTickets: number; seatsSold: number; revenue: number; pending: number; failed: number };
  failedReasons: Array<{ reason: string; tickets: number }>;
  pendingNow: { tickets: number; oldest: TimeView | null };
  refundsDue: { tickets: number; amount: number };
  unmatchedCallbacks: number;
  /** Results that contradict a confirmed payment: a person must look. */
  conflictingCallbacks: number;
  revenue: Array<{ movieId: number; title: string; show: TimeView; tickets: number; seats: number; amount: number }>;
  chart: BarChart;
  chartShows: number;
}

export async function dashboardPage(ctx: AdminContext): Promise<Dashboard> {
  const now = ctx.now();
  const db = ctx.database.db;
  const day = nairobiDayOf(now);
  const [byStatus, reasons, pending, refunds, unmatched, conflicts, shows] = await Promise.all([
    totalsBookedBetween(ctx.database, day.start, day.end),
    failureReasonsBetween(db, day.start, day.end, 10),
    countPending(db),
    countRefundsDue(db),
    countInbox(db, 'unmatched'),
    countInbox(db, 'conflict'),
    moviesShowingFrom(db, addDays(day.start, -7), CHART_SHOWS),
  ]);
  const get = (s: PaymentStatus) => byStatus.find((r) => r.paymentStatus === s);
  const sales = await salesByMovie(db, shows.map((m) => m.movieId));
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
    conflictingCallbacks: conflicts,
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
