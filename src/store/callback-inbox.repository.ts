import { sql } from 'kysely';
import type { FastConnection, FastSql } from '../core/db/fast.js';
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
    /** Leased to this instance (it applies the row at once); without it the row is free for any instance. */
    lease?: { instance: string; until: Date };
    bodyBytes?: number | null; bodySha256?: string | null;
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
      claimedBy: row.lease && row.outcome === 'received' ? row.lease.instance : null,
      claimedUntil: row.lease && row.outcome === 'received' ? toDbTime(row.lease.until) : null,
      bodyBytes: row.bodyBytes ?? null,
      bodySha256: row.bodySha256 ?? null,
    })
    .executeTakeFirstOrThrow();
  return insertedId(r);
}

// ── the hot path: group commit and the applier's leases (prepared statements, core/db/fast.ts) ──────────────────────

/** One callback as it arrived, for the batched insert: the verdict is stored with it (see ArrivalOutcome). */
export interface InboxArrival {
  receivedAt: Date;
  sourceIp: string | null;
  body: string;
  outcome: ArrivalOutcome;
  detail: string | null;
  bodyBytes: number | null;
  bodySha256: string | null;
}

const ARRIVAL_COLUMNS =
  'receivedAt, source, sourceIp, body, checkoutRequestId, outcome, detail, ticketId, processedAt, claimedBy, claimedUntil, bodyBytes, bodySha256';
/** The batched insert's text for n rows, built once per n (at most the batch size) and then reused. */
const arrivalSql: string[] = [];
function insertArrivalsSql(n: number): string {
  return (arrivalSql[n] ??= `INSERT INTO callbackinbox (${ARRIVAL_COLUMNS}) VALUES ${Array(n).fill('(?, \'callback\', ?, ?, NULL, ?, ?, NULL, ?, ?, ?, ?, ?)').join(', ')}`);
}

/**
 * Stores callbacks as they arrived in ONE multi-row INSERT, so in one commit (group commit). 'received' rows are born
 * leased to `lease.instance` until `lease.until`: that instance applies them without a claim round trip.
 */
export async function insertInboxArrivals(
  fast: FastSql, rows: readonly InboxArrival[], lease: { instance: string; until: Date }, opts: { lockWaitMs?: number } = {},
): Promise<void> {
  if (rows.length === 0) return;
  const until = toDbTime(lease.until);
  const params: unknown[] = [];
  for (const r of rows) {
    const at = toDbTime(r.receivedAt);
    const received = r.outcome === 'received';
    params.push(at, fit(r.sourceIp, 64), r.body, r.outcome, fit(r.detail, 255), received ? null : at,
      received ? lease.instance : null, received ? until : null, r.bodyBytes, r.bodySha256);
  }
  await fast.run((c) => c.exec(insertArrivalsSql(rows.length), params), opts);
}

const MINE_SQL = 'SELECT callbackId FROM callbackinbox WHERE outcome = \'received\' AND claimedBy = ? ORDER BY callbackId LIMIT ?';

/**
 * Ids of the 'received' rows leased to this instance, oldest first: the applier's work, without a claim. Ids only
 * (the index covers them), so a read made while many rows are in hand costs little; the rows come from inboxRowsById.
 */
export async function receivedIdsLeasedTo(fast: FastSql, instance: string, limit: number): Promise<number[]> {
  const rows = await fast.run((c) => c.all<{ callbackId: number }>(MINE_SQL, [instance, limit]));
  return rows.map((r) => Number(r.callbackId));
}

const byIdSql: string[] = [];
/** The rows with these ids (at most 64, one text per count, built once), oldest first. */
export async function inboxRowsById(fast: FastSql, ids: readonly number[]): Promise<CallbackInboxRow[]> {
  if (ids.length === 0) return [];
  const text = (byIdSql[ids.length] ??= `SELECT * FROM callbackinbox WHERE callbackId IN (${Array(ids.length).fill('?').join(', ')}) ORDER BY callbackId`);
  return fast.run((c) => c.all<CallbackInboxRow>(text, ids));
}

/**
 * Takes over 'received' rows whose lease has run out (their instance died or gave them back), leasing them to
 * `instance`: inside a transaction, with FOR UPDATE SKIP LOCKED on MySQL so instances claiming at once take different
 * rows, and on SQLite a compare-and-set on the lease it read (the write lock makes it exclusive anyway). Returns how many.
 */
export async function takeOverExpiredLeases(tx: Executor, instance: string, now: Date, until: Date, limit: number): Promise<number> {
  const at = toDbTime(now);
  const rows = await tx
    .selectFrom('callbackinbox')
    .select(['callbackId', 'claimedUntil'])
    .where('outcome', '=', 'received')
    // Reversal results (ResultURL) are applied by the refunds feature and its reconciler, never as payment callbacks.
    .where('source', '!=', 'reversal')
    .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<=', at)]))
    .orderBy('callbackId')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (rows.length === 0) return 0;
  const r = await tx
    .updateTable('callbackinbox')
    .set({ claimedBy: instance, claimedUntil: toDbTime(until) })
    .where('callbackId', 'in', rows.map((x) => x.callbackId))
    .where('outcome', '=', 'received')
    .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<=', at)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Gives a 'received' row back (its processing failed): free for any instance once `retryAt` has passed. */
export async function releaseLease(db: Executor, callbackId: number, retryAt: Date): Promise<void> {
  await db
    .updateTable('callbackinbox')
    .set({ claimedBy: null, claimedUntil: toDbTime(retryAt) })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', 'received')
    .execute();
}

const FINISH_RECEIVED_SQL =
  'UPDATE callbackinbox SET outcome = ?, detail = ?, ticketId = ?, checkoutRequestId = ?, processedAt = ? WHERE callbackId = ? AND outcome = \'received\'';

/** finishInboxRow for a 'received' row, as a prepared statement inside a fast transaction (the inbox row first: the lock order). */
export async function finishReceivedRow(
  c: FastConnection, callbackId: number, p: { outcome: InboxOutcome; detail: string; ticketId: number; checkoutRequestId: string; now: Date },
): Promise<boolean> {
  const r = await c.exec(FINISH_RECEIVED_SQL, [p.outcome, fit(p.detail, 255), p.ticketId, fit(p.checkoutRequestId, 64), toDbTime(p.now), callbackId]);
  return r.changes > 0;
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

/**
 * Rows a crash left 'received' (inserted, never processed) since before `before`, oldest first; a row still leased to
 * a live instance (claimedUntil ahead of `now`) is that instance's to apply and is left out.
 */
export async function inboxRowsLeftReceived(
  db: Executor, before: Date, limit: number, now: Date = before,
  // Payment results by default; reversal results (ResultURL) are the refund reconciler's, which reads them itself.
  sources: readonly InboxSource[] = ['callback', 'query', 'operator'],
): Promise<CallbackInboxRow[]> {
  return db
    .selectFrom('callbackinbox')
    .selectAll()
    .where('outcome', '=', 'received')
    .where('source', 'in', [...sources])
    .where('receivedAt', '<=', toDbTime(before))
    .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<=', toDbTime(now))]))
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

// ── retention (payments/inbox-retention.ts) ────────────────────────────────────────────────────────────────────

/** Outcomes whose body may be trimmed once old: settled, or never processed. unmatched, mismatch, conflict, received: never. */
const TRIMMABLE: InboxOutcome[] = ['applied', 'duplicate', 'rejected', 'invalid'];

/**
 * Rows received before `before` whose body may be trimmed: a settled outcome, a body not yet trimmed, and no open money
 * question on their ticket (a refund owed and not yet made keeps its callbacks whole).
 */
export async function rowsToTrim(db: Executor, before: Date, limit: number): Promise<Array<Pick<CallbackInboxRow, 'callbackId' | 'outcome' | 'body' | 'bodyBytes' | 'bodySha256'>>> {
  return db
    .selectFrom('callbackinbox as c')
    .leftJoin('ticket as t', 't.ticketId', 'c.ticketId')
    .select(['c.callbackId', 'c.outcome', 'c.body', 'c.bodyBytes', 'c.bodySha256'])
    .where('c.receivedAt', '<', toDbTime(before))
    .where('c.outcome', 'in', TRIMMABLE)
    .where('c.body', '<>', '')
    .where((eb) => eb.or([eb('t.ticketId', 'is', null), eb('t.needsRefund', '=', 0), eb('t.refundedAt', 'is not', null)]))
    .orderBy('c.callbackId')
    .limit(limit)
    .execute();
}

/** Empties a row's body, keeping the size and sha256 of what it held (or of what arrived, if it held only a prefix). */
export async function trimBody(db: Executor, callbackId: number, outcome: InboxOutcome, p: { bodyBytes: number; bodySha256: string }): Promise<boolean> {
  const r = await db
    .updateTable('callbackinbox')
    .set({ body: '', bodyBytes: p.bodyBytes, bodySha256: p.bodySha256 })
    .where('callbackId', '=', callbackId)
    .where('outcome', '=', outcome)
    .executeTakeFirst();
  return changed(r);
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
      'claimedBy', 'claimedUntil', 'bodyBytes', 'bodySha256',
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
