import { moviesByIds } from '../store/movie.repository.js';
import { latestRefunds } from '../store/refund.repository.js';
import { ticketPage } from '../store/ticket-lists.repository.js';
import type { AdminContext } from './admin-views.js';
import { CSV_BOM, csvRow } from './csv.js';
import { timeView } from './nairobi.js';
import type { TicketFilter } from './ticket-filter.js';
import { toTicketQuery } from './tickets.read-model.js';

/** The payments CSV (/admin/payments.csv): what an operator matches against the M-Pesa statement. */

export const CSV_HEADER = [
  'Receipt', 'Transaction date (Nairobi)', 'Phone', 'Amount (KES)', 'Ticket ref', 'Ticket ID', 'Movie', 'Tickets', 'Customer',
  'Confirmed by', 'Refund', 'Reversal status', 'Reversal transaction', 'Reversal amount (KES)',
] as const;

const CSV_BATCH = 1000;

/** Paid tickets under the filter, oldest first, as CSV text in chunks (keyset batches: memory stays flat). */
export async function* paymentsCsv(ctx: AdminContext, filter: TicketFilter): AsyncGenerator<string> {
  yield CSV_BOM + csvRow(CSV_HEADER);
  if (filter.status && filter.status !== 'Paid') return;
  const q = { ...toTicketQuery(filter), status: 'Paid' as const };
  const titles = new Map<number, string>();
  let after: { at: string; id: number } | undefined;
  for (;;) {
    const rows = await ticketPage(ctx.database, q, { after, limit: CSV_BATCH, direction: 'asc' });
    if (rows.length === 0) return;
    const missing = [...new Set(rows.map((r) => r.movieId))].filter((id) => !titles.has(id));
    for (const m of await moviesByIds(ctx.database.db, missing)) titles.set(m.movieId, m.title);
    // The M-Pesa reversal of each payment (its newest refund attempt), to match the statement's reversal lines too.
    const refunds = await latestRefunds(ctx.database.db, rows.map((r) => r.ticketId));
    let chunk = '';
    for (const t of rows) {
      const r = refunds.get(t.ticketId);
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
        t.refundedAt ? `refunded ${timeView(t.refundedAt).stamp}` : t.needsRefund ? 'refund due' : null,
        r?.status ?? null,
        r?.reversalTransactionId ?? null,
        r ? r.amount : null,
      ]);
    }
    yield chunk;
    const last = rows[rows.length - 1]!;
    if (rows.length < CSV_BATCH) return;
    after = { at: last.createdAt, id: last.ticketId };
  }
}
