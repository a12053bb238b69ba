import { Migrator } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDbTime } from '../../../src/core/db/time.js';
import { isDuplicateKey } from '../../../src/core/db/transaction.js';
import { migrations } from '../../../migrations/index.js';
import { markPaid } from '../../../src/store/ticket.repository.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { createTestDatabase, dialects } from '../../support/db.js';
import { ADMIN_ENV, operator } from '../admin/helpers.js';
import {
  TOKEN, inboxRowsFor, insertPendingTicket, newReceipt, notificationKinds, successCallback, ticketRow, ticketsHeld,
} from './helpers.js';

// A success is a success only with its evidence: the receipt, the amount and the paying phone, and a receipt pays one
// ticket. What fails these stays in the inbox (invalid / mismatch) for an operator; the ticket is not Paid by it.

type Items = Array<{ Name: string; Value?: unknown }>;

/** A success callback for the ticket with its metadata items changed by `edit`. */
function successWith(tk: { checkoutRequestId?: string; totalAmount: number; phone: string }, edit: (items: Items) => Items): string {
  const body = successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }) as {
    Body: { stkCallback: { CallbackMetadata: { Item: Items } } };
  };
  const md = body.Body.stkCallback.CallbackMetadata;
  md.Item = edit(md.Item);
  return JSON.stringify(body);
}

const without = (name: string) => (items: Items) => items.filter((i) => i.Name !== name);
const withValue = (name: string, value: unknown) => (items: Items) =>
  items.map((i) => (i.Name === name ? (value === undefined ? { Name: name } : { Name: name, Value: value }) : i));

describe.each(dialects)('evidence of a payment on %s', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, ...ADMIN_ENV });
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (body: string) =>
    request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(body).expect(200);

  it.each([
    ['without MpesaReceiptNumber', without('MpesaReceiptNumber'), 'without MpesaReceiptNumber'],
    ['with a MpesaReceiptNumber that has no Value', withValue('MpesaReceiptNumber', undefined), 'without MpesaReceiptNumber'],
    ['without Amount', without('Amount'), 'without Amount'],
    ['without PhoneNumber', without('PhoneNumber'), 'without PhoneNumber'],
    ['without any CallbackMetadata item', () => [], 'without MpesaReceiptNumber, Amount, PhoneNumber'],
    ['with a receipt that has a dash', withValue('MpesaReceiptNumber', 'TEE2-QR5JM'), 'not letters and digits'],
    ['with a receipt that is markup', withValue('MpesaReceiptNumber', '<b>X</b>'), 'not letters and digits'],
    ['with a receipt longer than any receipt', withValue('MpesaReceiptNumber', 'A'.repeat(21)), 'not letters and digits'],
  ])('when a ResultCode 0 callback arrives %s, then the ticket stays Pending holding its seats, nothing is sent, and the row is invalid for an operator', async (_what, edit, reason) => {
    const tk = await insertPendingTicket(t.database.db);
    await post(successWith(tk, edit));

    const ticket = await ticketRow(t.database.db, tk.ticketId);
    expect(ticket).toMatchObject({ paymentStatus: 'Pending', mpesaReceiptNumber: null, holdsTickets: 1, confirmedBy: null });
    expect(await ticketsHeld(t.database.db, tk.movieId)).toBe(tk.quantity);
    expect(await notificationKinds(t.database.db, tk.ticketId)).toEqual([]);
    const rows = await t.database.db.selectFrom('callbackinbox').selectAll().where('body', 'like', `%${tk.checkoutRequestId!}%`).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'invalid', detail: expect.stringContaining(reason) });
    expect(rows[0]!.detail).toContain('no evidence of a payment');

    const page = await operator(t.app).get('/admin/callbacks?outcome=invalid').expect(200);
    expect(page.text).toContain(tk.checkoutRequestId!);
    expect(page.text).toContain('no evidence of a payment');
  });

  it('when a second ticket\'s success carries a receipt already recorded for another ticket, then it is not Paid by it, the row is mismatch and an operator sees it', async () => {
    const first = await insertPendingTicket(t.database.db);
    const second = await insertPendingTicket(t.database.db);
    const receipt = newReceipt();
    await post(JSON.stringify(successCallback({ checkoutRequestId: first.checkoutRequestId!, amount: first.totalAmount, phone: first.phone, receipt })));
    await post(JSON.stringify(successCallback({ checkoutRequestId: second.checkoutRequestId!, amount: second.totalAmount, phone: second.phone, receipt })));

    expect(await ticketRow(t.database.db, first.ticketId)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: receipt });
    expect(await ticketRow(t.database.db, second.ticketId)).toMatchObject({ paymentStatus: 'Pending', mpesaReceiptNumber: null, holdsTickets: 1 });
    expect(await notificationKinds(t.database.db, second.ticketId)).toEqual([]);
    const [row] = await inboxRowsFor(t.database.db, second.checkoutRequestId!);
    expect(row).toMatchObject({ outcome: 'mismatch', ticketId: second.ticketId, detail: `receipt ${receipt} is already recorded for ticket ${first.ticketId}` });

    const page = await operator(t.app).get('/admin/callbacks?outcome=mismatch').expect(200);
    expect(page.text).toContain(`receipt ${receipt} is already recorded for ticket ${first.ticketId}`);
  });

  it('when two tickets\' successes with one receipt arrive at the same moment, then exactly one ticket is Paid and the other row is mismatch', async () => {
    const a = await insertPendingTicket(t.database.db);
    const b = await insertPendingTicket(t.database.db);
    const receipt = newReceipt();
    await Promise.all([a, b].map((tk) =>
      post(JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt })))));

    const tickets = [await ticketRow(t.database.db, a.ticketId), await ticketRow(t.database.db, b.ticketId)];
    expect(tickets.map((x) => x.paymentStatus).sort()).toEqual(['Paid', 'Pending']);
    const outcomes = [(await inboxRowsFor(t.database.db, a.checkoutRequestId!))[0]!.outcome, (await inboxRowsFor(t.database.db, b.checkoutRequestId!))[0]!.outcome];
    expect(outcomes.sort()).toEqual(['applied', 'mismatch']);
  });

  it('when a payment confirmed by STK Query gets a callback whose receipt another ticket recorded, then the receipt is not added and the row is mismatch', async () => {
    const owner = await insertPendingTicket(t.database.db);
    const queried = await insertPendingTicket(t.database.db);
    const receipt = newReceipt();
    await post(JSON.stringify(successCallback({ checkoutRequestId: owner.checkoutRequestId!, amount: owner.totalAmount, phone: owner.phone, receipt })));
    await t.services.payments.applier.recordQueryResult(queried.ticketId, queried.checkoutRequestId!, { resultCode: '0', resultDesc: 'processed' });
    expect(await ticketRow(t.database.db, queried.ticketId)).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null });

    await post(JSON.stringify(successCallback({ checkoutRequestId: queried.checkoutRequestId!, amount: queried.totalAmount, phone: queried.phone, receipt })));
    expect(await ticketRow(t.database.db, queried.ticketId)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: null, needsRefund: 0 });
    const rows = await inboxRowsFor(t.database.db, queried.checkoutRequestId!);
    expect(rows.map((r) => [r.source, r.outcome])).toEqual([['query', 'applied'], ['callback', 'mismatch']]);
  });

  it('when anything writes a receipt another ticket holds, then the database itself refuses it', async () => {
    const movieId = await buildMovie(t.database.db, { price: 10, maximumTickets: 10 });
    const receipt = newReceipt();
    await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: receipt });
    const other = await buildTicket(t.database.db, { movieId, paymentStatus: 'Pending' });
    const write = markPaid(t.database.db, other.ticketId, 'Pending', {
      mpesaReceiptNumber: receipt, transactionDate: new Date(), confirmedBy: 'callback', holdsTickets: 1, needsRefund: 0, now: new Date(),
    });
    const refused = await write.then(() => undefined, (e: unknown) => e);
    expect(isDuplicateKey(refused)).toBe(true);
    // Receipts compare byte for byte on both databases; several tickets may still wait for theirs (NULL).
    await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: receipt.toLowerCase() });
    await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: null, confirmedBy: 'query' });
    await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: null, confirmedBy: 'query' });
  });
});

describe.each(dialects)('migration 009 on %s', (dialect) => {
  it('when tickets written before it share a receipt, then the first keeps it and each other keeps Paid, loses the receipt and gets an audit row', async () => {
    const database = await createTestDatabase(dialect, { migrate: false });
    try {
      const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => migrations } });
      // Every migration before 009 (the builders write the columns those add, such as 007's ticket code).
      const names = Object.keys(migrations);
      expect((await migrator.migrateTo(names[names.indexOf('009-receipt-unique') - 1]!)).error).toBeUndefined();
      const db = database.db;
      const movieId = await buildMovie(db, { price: 10, maximumTickets: 10 });
      const keeper = await buildTicket(db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: 'DUP1234567' });
      const copy = await buildTicket(db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: 'DUP1234567', updatedAt: toDbTime(new Date('2026-01-01T00:00:00Z')) });
      const alone = await buildTicket(db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: 'ONE1234567' });

      expect((await migrator.migrateToLatest()).error).toBeUndefined();

      const rows = await db.selectFrom('ticket').select(['ticketId', 'paymentStatus', 'mpesaReceiptNumber']).where('movieId', '=', movieId).orderBy('ticketId').execute();
      expect(rows).toEqual([
        { ticketId: keeper.ticketId, paymentStatus: 'Paid', mpesaReceiptNumber: 'DUP1234567' },
        { ticketId: copy.ticketId, paymentStatus: 'Paid', mpesaReceiptNumber: null },
        { ticketId: alone.ticketId, paymentStatus: 'Paid', mpesaReceiptNumber: 'ONE1234567' },
      ]);
      const audit = await db.selectFrom('auditlog').selectAll().where('action', '=', 'ticket.receipt_duplicate').execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ ticketId: copy.ticketId, actor: 'migration' });
      expect(audit[0]!.detail).toContain(`receipt DUP1234567 was also recorded for ticket ${keeper.ticketId}`);
    } finally {
      await database.drop();
    }
  });
});
