import { sql } from 'kysely';
import type { Executor } from '../core/db/transaction.js';
import type { CallbackInboxRow, InboxOutcome, InboxSource } from '../core/db/schema.js';
import { changed, fit, insertedId } from '../core/db/rows.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The callbackinbox table's one owner. Every body that reaches the callback URL is a row here, stored raw BEFORE
 * anything is done with it (docs/adr/0001-raw-inbox-and-spool.md); so is every STK Query answer the reconciler acts on.
 *
 * The outcome state machine:
 *   (arrival) → received | rejected (bad token or IP) | invalid (over the size limit)   insert
 *   received  → applied | duplicate | unmatched | mismatch | conflict | invalid            finish
 *   unmatched → applied | duplicate | mismatch | conflict | unmatched (its attempt became known, or an operator assigned it)
 *   rejected, invalid, applied, duplicate, mismatch, conflict: final.
 * A row is processed by whoever claims it: `claim` and `finish` are conditional on the outcome the caller read, so
 * two processors (the request and the reconciler, or two instances) never both apply one body. Inside the applying
 * transaction the claim also locks the row, first in the lock order (store/ticket.repository.ts).
 */

/** What is stored on arrival: the verdict needs nothing from the body, so a crash can never leave a bad one 'received'. */
export type ArrivalOutcome = 'received' | 'rejected' | 'invalid';

export async function insertInboxRow(
  db: Executor,
  row: {
    source: InboxSource; sourceIp: string | null; body: string; outcome: ArrivalOutcome; detail: string | null;
    checkoutRequestId?: string | null; ticketId?: number | null; now: Date;
  },
): Promise<number> {
  const at = toDbTime(row.now);
  const r = await db
    .insertInto('callbackinbox')
    .values({
      receivedAt: at,
      source: row.source,
      sourceIp: fit(row.sourceIp, 64),
      body: row.body,
      checkoutRequestId: fit(row.checkoutRequestId ?? null, 64),
      outcome: row.outcome,
      detail: fit(row.detail, 255),
      ticketId: row.ticketId ?? null,
      processedAt: row.outcome === 'received' ? null : at,
    })
    .executeTakeFirstOrThrow();
  return insertedId(r);
}

export async function findInboxRow(db: Executor, callbackId: number): Promise<CallbackInboxRow | undefined> {
  return db.selectFrom('callbackinbox').selectAll().where('callbackId', '=', callbackId).executeTakeFirst();
}

/** Takes a row for processing, only while it still has the outcome the caller read; in a transaction, also locks it. */
export async function claimInboxRow(db: Executor, callbackId: number, expected: InboxOutcome, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('callbackinbox')
    .set({ processedAt: toDbTime(now) })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', expected)
    .executeTakeFirst();
  return changed(r);
}

/** Records the outcome of processing, only while the row still has the outcome the caller read. */
export async function finishInboxRow(
  db: Executor,
  callbackId: number,
  expected: InboxOutcome,
  p: { outcome: InboxOutcome; detail: string | null; ticketId?: number | null; checkoutRequestId?: string | null; now: Date },
): Promise<boolean> {
  const r = await db
    .updateTable('callbackinbox')
    .set({
      outcome: p.outcome,
      detail: fit(p.detail, 255),
      processedAt: toDbTime(p.now),
      ...(p.ticketId !== undefined ? { ticketId: p.ticketId } : {}),
      ...(p.checkoutRequestId !== undefined ? { checkoutRequestId: fit(p.checkoutRequestId, 64) } : {}),
    })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', expected)
    .executeTakeFirst();
  return changed(r);
}

/** Rows a crash left 'received' (inserted, never processed) since before `before`, oldest first. */
export async function inboxRowsLeftReceived(
  db: Executor, before: Date, limit: number,
  // Payment results by default; reversal results (ResultURL) are the refund reconciler's, which reads them itself.
  sources: readonly InboxSource[] = ['callback', 'query', 'operator'],
): Promise<CallbackInboxRow[]> {
  return db
    .selectFrom('callbackinbox')
    .selectAll()
    .where('outcome', '=', 'received')
    .where('source', 'in', [...sources])
    .where('receivedAt', '<=', toDbTime(before))
    .orderBy('callbackId')
    .limit(limit)
    .execute();
}

/** 'unmatched' rows whose CheckoutRequestID an attempt now carries (the callback beat the push's answer). */
export async function unmatchedRowsNowKnown(db: Executor, limit: number, checkoutRequestId?: string): Promise<CallbackInboxRow[]> {
  let q = db
    .selectFrom('callbackinbox')
    .selectAll()
    .where('outcome', '=', 'unmatched')
    .where('checkoutRequestId', 'is not', null)
    .where((eb) =>
      eb.exists(
        eb.selectFrom('pushrequest').select('pushrequest.pushRequestId')
          .whereRef('pushrequest.checkoutRequestId', '=', 'callbackinbox.checkoutRequestId'),
      ),
    );
  if (checkoutRequestId !== undefined) q = q.where('checkoutRequestId', '=', checkoutRequestId);
  return q.orderBy('callbackId').limit(limit).execute();
}

// ── the operator's views ────────────────────────────────────────────────────────────────────────────────────────

/** Above this, the list shows the start of a body and links to the full one. */
export const BODY_PREVIEW_CHARS = 2000;

export type InboxListRow = Omit<CallbackInboxRow, 'body'> & { bodyPreview: string };

/** Newest first, by callbackId (rows are inserted as they arrive, so id order is arrival order). */
export async function inboxPage(
  db: Executor,
  f: { outcome?: InboxOutcome },
  opts: { beforeId?: number; limit: number },
): Promise<InboxListRow[]> {
  let q = db
    .selectFrom('callbackinbox')
    .select([
      'callbackId', 'receivedAt', 'source', 'sourceIp', 'checkoutRequestId', 'outcome', 'detail', 'ticketId', 'processedAt',
      sql<string>`substr(body, 1, ${sql.lit(BODY_PREVIEW_CHARS + 1)})`.as('bodyPreview'),
    ]);
  if (f.outcome) q = q.where('outcome', '=', f.outcome);
  if (opts.beforeId !== undefined) q = q.where('callbackId', '<', opts.beforeId);
  return q.orderBy('callbackId', 'desc').limit(opts.limit).execute();
}

/** Rows tied to the ticket, and rows that name one of its CheckoutRequestIDs without being tied (yet). */
export async function inboxForTicket(db: Executor, ticketId: number, checkoutRequestIds: readonly string[]): Promise<CallbackInboxRow[]> {
  const rows = await db.selectFrom('callbackinbox').selectAll().where('ticketId', '=', ticketId).execute();
  if (checkoutRequestIds.length) {
    const seen = new Set(rows.map((r) => r.callbackId));
    const more = await db.selectFrom('callbackinbox').selectAll().where('checkoutRequestId', 'in', [...checkoutRequestIds]).execute();
    for (const r of more) if (!seen.has(r.callbackId)) rows.push(r);
  }
  return rows.sort((a, b) => a.callbackId - b.callbackId);
}

export async function countInbox(db: Executor, outcome: InboxOutcome): Promise<number> {
  const r = await db.selectFrom('callbackinbox').select((eb) => eb.fn.countAll().as('n')).where('outcome', '=', outcome).executeTakeFirstOrThrow();
  return Number(r.n);
}
