import { countRefundsDue, recentlyRefunded, refundsDue } from '../store/ticket-lists.repository.js';
import { ticketRows, type AdminContext, type TicketRowView } from './admin-views.js';

/** The refunds page (/admin/refunds): refunds owed, oldest first, and the latest given back. */

export interface RefundsPage {
  due: TicketRowView[];
  dueTotal: { tickets: number; amount: number };
  recent: TicketRowView[];
  shownLimit: number;
}

export async function refundsPage(ctx: AdminContext): Promise<RefundsPage> {
  const shownLimit = 200;
  const db = ctx.database.db;
  const [due, dueTotal, recent] = await Promise.all([refundsDue(db, shownLimit), countRefundsDue(db), recentlyRefunded(db, 20)]);
  return { due: await ticketRows(ctx, due), dueTotal, recent: await ticketRows(ctx, recent), shownLimit };
}
