import type { AuditLog, CallbackInboxRow, Notification, PushRequest, Refund, Ticket } from '../core/db/schema.js';
import { bodyView, kes, type BodyView } from './admin-views.js';
import { timeView, type TimeView } from './nairobi.js';

/** One event in a ticket's story, as the admin ticket page shows it: every string ready, so the view holds no logic. */
export interface TimelineEntry {
  at: TimeView;
  kind: 'booked' | 'push' | 'callback' | 'query' | 'operator' | 'reversal' | 'refund' | 'notification' | 'audit';
  title: string;
  facts: Array<{ label: string; value: string }>;
  body?: BodyView;
  callbackId?: number;
}

/** Everything stored about one ticket. */
export interface TicketHistory {
  ticket: Ticket;
  pushes: PushRequest[];
  inbox: CallbackInboxRow[];
  notifications: Notification[];
  audit: AuditLog[];
  /** Refund attempts (M-Pesa reversals), oldest first. */
  refunds?: Refund[];
}

const KIND_ORDER: Record<TimelineEntry['kind'], number> = { booked: 0, push: 1, callback: 2, query: 2, operator: 2, refund: 2, reversal: 2, notification: 3, audit: 4 };

const fact = (label: string, value: string | number | null | undefined) =>
  value === null || value === undefined || value === '' ? [] : [{ label, value: String(value) }];

/** The ticket's story oldest first: booking, push attempts, callbacks and queries, notifications, operators' actions. */
export function presentTimeline(h: TicketHistory): TimelineEntry[] {
  const { ticket: t } = h;
  const entries: Array<TimelineEntry & { sortAt: string; seq: number }> = [];
  const add = (sortAt: string, seq: number, e: TimelineEntry) => entries.push({ ...e, sortAt, seq });

  add(t.createdAt, 0, {
    at: timeView(t.createdAt),
    kind: 'booked',
    title: `Booked: ${t.quantity} ${t.quantity === 1 ? 'ticket' : 'tickets'}, ${kes(t.totalAmount)}`,
    facts: [...fact('Customer', t.customerName), ...fact('Phone', t.phoneNumber), ...fact('Email', t.email)],
  });
  h.pushes.forEach((p, i) => {
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
  for (const c of h.inbox) {
    const what = c.source === 'query' ? 'STK Query answer' : c.source === 'operator' ? 'Operator action' : c.source === 'reversal' ? 'Reversal result' : 'Callback';
    add(c.receivedAt, c.callbackId, {
      at: timeView(c.receivedAt),
      kind: c.source,
      title: `${what} #${c.callbackId}: ${c.outcome}`,
      facts: [...fact('Detail', c.detail), ...fact('CheckoutRequestID', c.checkoutRequestId), ...fact('From', c.sourceIp)],
      body: bodyView(c.body),
      callbackId: c.callbackId,
    });
  }
  for (const r of h.refunds ?? []) {
    add(r.createdAt, r.refundId, {
      at: timeView(r.createdAt),
      kind: 'refund',
      title: `Refund #${r.refundId} (M-Pesa reversal): ${r.status}`,
      facts: [
        ...fact('Amount', kes(r.amount)),
        ...fact('Reverses receipt', r.transactionId),
        ...fact('Asked by', r.actor),
        ...fact('Reason', r.reason),
        ...fact('ConversationID', r.conversationId),
        ...fact('Accepted', r.acceptedAt ? timeView(r.acceptedAt).stamp : null),
        ...fact('Reversal transaction', r.reversalTransactionId),
        ...fact('Status checks', r.statusChecks || null),
        ...fact('Result code', r.resultCode),
        ...fact('Failure', r.failureReason),
        ...fact('Completed', r.completedAt ? timeView(r.completedAt).stamp : null),
      ],
    });
  }
  for (const n of h.notifications) {
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
  for (const a of h.audit) {
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
