import { err, ok, type Result } from '../core/result.js';
import { auditForTicket } from '../store/audit.repository.js';
import { inboxForTicket } from '../store/callback-inbox.repository.js';
import { notificationsForTicket } from '../store/notification.repository.js';
import { pushesForTicket } from '../store/push-request.repository.js';
import { refundsForTicket } from '../store/refund.repository.js';
import { findTicket, findTicketIdByRef } from '../store/ticket.repository.js';
import { refundView, type RefundView } from './refunds.read-model.js';
import { movieTitles, ticketRowView, type AdminContext, type TicketRowView } from './admin-views.js';
import { timeView, type TimeView } from './nairobi.js';
import { presentTimeline, type TimelineEntry } from './ticket-timeline.presenter.js';

/** The admin ticket page (/admin/tickets/:ticketId): the ticket and everything that happened to it. */

export interface TicketDetail {
  ticket: TicketRowView & {
    email: string | null; resultCode: string | null; pendingSince: TimeView; updated: TimeView;
    /** Why it failed in Daraja's own words, for the operator: the last attempt's code and text (not the customer's sentence). */
    darajaReason: string | null;
  };
  timeline: TimelineEntry[];
  /** The newest refund (an M-Pesa reversal), and whether the operator may ask for one now (Paid, receipt, none in flight or done). */
  latestRefund: RefundView | null;
  canRefund: boolean;
}

export async function ticketDetail(ctx: AdminContext, ticketId: number): Promise<Result<TicketDetail, { kind: 'not_found' }>> {
  const db = ctx.database.db;
  const t = Number.isSafeInteger(ticketId) && ticketId > 0 ? await findTicket(db, ticketId) : undefined;
  if (!t) return err({ kind: 'not_found' });
  const [pushes, notifications, audit, titles, refunds] = await Promise.all([
    pushesForTicket(db, ticketId),
    notificationsForTicket(db, ticketId),
    auditForTicket(db, ticketId),
    movieTitles(ctx, [t.movieId]),
    refundsForTicket(db, ticketId),
  ]);
  const latest = refunds.at(-1);
  const inbox = await inboxForTicket(db, ticketId, pushes.flatMap((p) => (p.checkoutRequestId ? [p.checkoutRequestId] : [])));
  return ok({
    ticket: {
      ...ticketRowView(t, titles.get(t.movieId) ?? `Movie ${t.movieId}`),
      email: t.email,
      resultCode: t.resultCode,
      pendingSince: timeView(t.pendingSince),
      updated: timeView(t.updatedAt),
      darajaReason: t.paymentStatus === 'Failed' ? darajaReason(pushes) : null,
    },
    timeline: presentTimeline({ ticket: t, pushes, inbox, notifications, audit, refunds }),
    latestRefund: latest ? refundView(latest) : null,
    canRefund: t.paymentStatus === 'Paid' && !t.refundedAt && t.mpesaReceiptNumber !== null && (!latest || latest.status === 'failed'),
  });
}

/** The newest attempt's answer as Daraja gave it: "ResultCode 1032: Request cancelled by user", or its HTTP error. */
function darajaReason(pushes: Awaited<ReturnType<typeof pushesForTicket>>): string | null {
  for (const p of [...pushes].reverse()) {
    if (p.resultCode !== null && p.resultCode !== '0') return `ResultCode ${p.resultCode}${p.resultDesc ? `: ${p.resultDesc}` : ''}`;
    if (p.errorCode !== null || p.errorMessage !== null) return `${p.errorCode ?? 'Error'}${p.errorMessage ? `: ${p.errorMessage}` : ''}`;
    if (p.status === 'Unknown' || p.status === 'Sending') return 'No answer from Daraja to the push (timed out or never sent)';
  }
  return null;
}

/** A ticket by row id or by its public reference, or a pasted ticket link (what a customer can show from their page). */
export async function resolveTicket(ctx: AdminContext, input: string): Promise<number | undefined> {
  const s = input.trim();
  if (/^\d{1,12}$/.test(s)) return (await findTicket(ctx.database.db, Number(s)))?.ticketId;
  const ref = s.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? '';
  if (!/^[A-Za-z0-9_-]{10,32}$/.test(ref)) return undefined;
  return findTicketIdByRef(ctx.database.db, ref);
}
