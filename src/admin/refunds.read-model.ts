import type { Refund } from '../core/db/schema.js';
import { latestRefunds, recentFailedRefunds, unsettledRefunds } from '../store/refund.repository.js';
import { countRefundsDue, recentlyRefunded, refundsDue } from '../store/ticket-lists.repository.js';
import { UNSETTLED_AFTER_CHECKS } from '../refunds/refund-reconciler.js';
import { kes, ticketRows, type AdminContext, type TicketRowView } from './admin-views.js';
import { timeView, type TimeView } from './nairobi.js';

/**
 * The refunds page (/admin/refunds): refunds owed, oldest first, each with a Refund button (an M-Pesa reversal) or the
 * state of the one in flight; failed reversals with Daraja's reason; refunds M-Pesa has not settled after many
 * Transaction Status queries; and the latest given back.
 */

export interface RefundView {
  refundId: number;
  ticketId: number;
  status: Refund['status'];
  label: string;
  amount: string;
  failureReason: string | null;
  created: TimeView;
  actor: string;
}

export interface RefundsPage {
  due: Array<TicketRowView & { latest: RefundView | null }>;
  dueTotal: { tickets: number; amount: number };
  recent: TicketRowView[];
  failed: RefundView[];
  unsettled: RefundView[];
  shownLimit: number;
}

/** What the page (and its script, which polls the JSON) says about a refund's state. */
export function refundLabel(status: Refund['status']): string {
  switch (status) {
    case 'requested': return 'Refund requested: sending to M-Pesa…';
    case 'accepted': return 'Sent to M-Pesa: waiting for the result…';
    case 'unknown': return 'No answer from M-Pesa yet: checking with Transaction Status…';
    case 'refunded': return 'Refunded';
    case 'failed': return 'Refund failed';
  }
}

export function refundView(r: Refund): RefundView {
  return {
    refundId: r.refundId, ticketId: r.ticketId, status: r.status, label: refundLabel(r.status), amount: kes(r.amount),
    failureReason: r.failureReason, created: timeView(r.createdAt), actor: r.actor,
  };
}

export async function refundsPage(ctx: AdminContext): Promise<RefundsPage> {
  const shownLimit = 200;
  const db = ctx.database.db;
  const [due, dueTotal, recent, failed, unsettled] = await Promise.all([
    refundsDue(db, shownLimit), countRefundsDue(db), recentlyRefunded(db, 20), recentFailedRefunds(db, 20), unsettledRefunds(db, UNSETTLED_AFTER_CHECKS, 50),
  ]);
  const latest = await latestRefunds(db, due.map((t) => t.ticketId));
  const dueRows = (await ticketRows(ctx, due)).map((t) => {
    const r = latest.get(t.ticketId);
    return { ...t, latest: r ? refundView(r) : null };
  });
  // A failed refund that was retried since is history: show each ticket's newest refund only, if it is a failure.
  const newest = await latestRefunds(db, failed.map((r) => r.ticketId));
  const stillFailed = failed.filter((r) => newest.get(r.ticketId)?.refundId === r.refundId).map(refundView);
  return { due: dueRows, dueTotal, recent: await ticketRows(ctx, recent), failed: stillFailed, unsettled: unsettled.map(refundView), shownLimit };
}
