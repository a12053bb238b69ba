import type { InboxOutcome } from '../core/db/schema.js';
import { err, ok, type Result } from '../core/result.js';
import { auditForCallback } from '../store/audit.repository.js';
import { BODY_PREVIEW_CHARS, findInboxRow, inboxPage, type InboxListRow } from '../store/callback-inbox.repository.js';
import { bodyView, pageSize, type AdminContext, type BodyView } from './admin-views.js';
import { decodeIdCursor } from './keyset.js';
import { timeView, timeViewOrNull, type TimeView } from './nairobi.js';

/** The callback inbox pages (/admin/callbacks and /admin/callbacks/:callbackId). */

export const INBOX_OUTCOMES: readonly InboxOutcome[] = ['applied', 'duplicate', 'unmatched', 'rejected', 'invalid', 'mismatch', 'conflict', 'received'];

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

export interface CallbacksPage {
  outcome: string;
  outcomeError?: string;
  rows: CallbackView[];
  next?: string;
  firstPage: boolean;
  limit: number;
  outcomes: readonly InboxOutcome[];
}

export interface CallbackDetail {
  callback: CallbackView;
  audit: Array<{ at: TimeView; actor: string; action: string; detail: string | null; ticketId: number | null }>;
}

export async function callbacksPage(ctx: AdminContext, query: Record<string, unknown>): Promise<CallbacksPage> {
  const outcome = typeof query.outcome === 'string' ? query.outcome.trim() : '';
  const limit = pageSize(query.limit);
  const before = typeof query.before === 'string' && query.before !== '' ? decodeIdCursor(query.before) : undefined;
  const base = { outcome, firstPage: before === undefined, limit, outcomes: INBOX_OUTCOMES };
  if (outcome !== '' && !(INBOX_OUTCOMES as readonly string[]).includes(outcome)) {
    return { ...base, outcomeError: 'Choose one of the outcomes in the list.', rows: [] };
  }
  const found = await inboxPage(ctx.database.db, { outcome: (outcome || undefined) as InboxOutcome | undefined }, { beforeId: before, limit: limit + 1 });
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return {
    ...base,
    rows: page.map((r) => callbackView(r, r.bodyPreview, r.bodyPreview.length > BODY_PREVIEW_CHARS)),
    next: found.length > limit && last ? String(last.callbackId) : undefined,
  };
}

export async function callbackDetail(ctx: AdminContext, callbackId: number): Promise<Result<CallbackDetail, { kind: 'not_found' }>> {
  const db = ctx.database.db;
  const row = Number.isSafeInteger(callbackId) && callbackId > 0 ? await findInboxRow(db, callbackId) : undefined;
  if (!row) return err({ kind: 'not_found' });
  const audit = await auditForCallback(db, callbackId);
  return ok({
    callback: callbackView(row, row.body, false),
    audit: audit.map((a) => ({ at: timeView(a.at), actor: a.actor, action: a.action, detail: a.detail, ticketId: a.ticketId })),
  });
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
