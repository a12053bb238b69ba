import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../../src/app.js';
import { buildServices } from '../../../src/compose.js';
import { openDatabase, type Db } from '../../../src/core/db/database.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { holdTickets } from '../../../src/store/movie.repository.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildPush } from '../../support/builders.js';
import { ADMIN_ENV, operator } from '../admin/helpers.js';
import {
  TOKEN, TRANSACTION_DATE_UTC, failureCallback, inboxRowsFor, insertPendingTicket, lastInboxRow, newCheckoutId,
  newReceipt, notificationKinds, pushRow, successCallback, ticketRow, ticketsHeld,
} from './helpers.js';

const ACK = { ResultCode: 0, ResultDesc: 'Success' };
const MERCHANT_SETUP = 'We could not take M-Pesa payments because of a set-up problem on our side. Please try again later.';

describe.each(dialects)('the M-Pesa callback over HTTP on %s', (dialect) => {
  let t: TestApp;
  let db: Db;

  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, ...ADMIN_ENV });
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const post = (body: unknown, opts: { token?: string; type?: string; ip?: string } = {}) => {
    let r = request(t.app).post(`/api/payments/callback/${opts.token ?? TOKEN}`);
    if (opts.ip) r = r.set('X-Forwarded-For', opts.ip);
    if (typeof body === 'string') return r.set('Content-Type', opts.type ?? 'application/json').send(body);
    return r.set('Content-Type', opts.type ?? 'application/json').send(JSON.stringify(body));
  };
  const expectAck = (res: { status: number; body: unknown }) => {
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ACK);
  };
  const onlyRow = async (checkoutRequestId: string) => {
    const rows = await inboxRowsFor(db, checkoutRequestId);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  it('when a success callback arrives for a Pending ticket, then the ticket is Paid with the receipt and the Nairobi transaction date, and a notification is queued', async () => {
    const tk = await insertPendingTicket(db, { email: 'wanjiru@example.com' });
    const receipt = newReceipt();
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt }));
    expectAck(await post(body));

    const ticket = await ticketRow(db, tk.ticketId);
    expect(ticket).toMatchObject({
      paymentStatus: 'Paid', mpesaReceiptNumber: receipt, transactionDate: TRANSACTION_DATE_UTC, resultCode: '0',
      confirmedBy: 'callback', holdsTickets: 1, needsRefund: 0, nextCheckAt: null, failureReason: null,
    });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
    // The outbox rows exactly as enqueueNotification writes them: the email, and the SMS to the ticket's phone.
    expect(await db.selectFrom('notification').select(['kind', 'channel', 'recipient', 'status']).where('ticketId', '=', tk.ticketId)
      .orderBy('notificationId').execute()).toEqual([
      { kind: 'Paid', channel: 'email', recipient: 'wanjiru@example.com', status: 'pending' },
      { kind: 'Paid', channel: 'sms', recipient: `+${tk.phone}`, status: 'pending' },
    ]);
    const row = await onlyRow(tk.checkoutRequestId!);
    expect(row).toMatchObject({ source: 'callback', outcome: 'applied', ticketId: tk.ticketId, body });
    expect(row.sourceIp).toMatch(/127\.0\.0\.1|::1/);
    expect(row.processedAt).not.toBeNull();
    expect(await pushRow(db, tk.pushRequestId!)).toMatchObject({ status: 'Completed', resultCode: '0' });
  });

  it.each([
    [1032, 'Request cancelled by user', 'You cancelled the payment on your phone.'],
    [1, 'The balance is insufficient for the transaction.', 'Your M-Pesa balance was not enough.'],
    [2001, 'The initiator information is invalid.', 'The PIN was wrong.'],
    [1037, 'DS timeout user cannot be reached', 'Your phone could not be reached.'],
    ['SFC_IC0003', 'The operator does not exist', MERCHANT_SETUP],
    ['1032', 'Request cancelled by user', 'You cancelled the payment on your phone.'],
    [9999, '[STK_CB - ]something   odd happened', 'Something odd happened.'],
  ])('when a failure callback with ResultCode %j arrives, then the ticket is Failed with the plain reason and its tickets are released', async (code, desc, reason) => {
    const tk = await insertPendingTicket(db);
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: code, resultDesc: desc })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({
      paymentStatus: 'Failed', failureReason: reason, resultCode: String(code), holdsTickets: 0, nextCheckAt: null, mpesaReceiptNumber: null,
    });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed']);
    expect(await onlyRow(tk.checkoutRequestId!)).toMatchObject({ outcome: 'applied', ticketId: tk.ticketId });
    expect(await pushRow(db, tk.pushRequestId!)).toMatchObject({ status: 'Completed', resultCode: String(code), resultDesc: desc });
  });

  it('when the same success callback is delivered twice, then the second changes nothing and is recorded as duplicate', async () => {
    const tk = await insertPendingTicket(db);
    const cb = successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone });
    expectAck(await post(cb));
    const first = await ticketRow(db, tk.ticketId);
    expectAck(await post(cb));

    expect(await ticketRow(db, tk.ticketId)).toEqual(first);
    expect((await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome)).toEqual(['applied', 'duplicate']);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when 20 copies of a success callback arrive at once, then exactly one is applied, 19 are duplicates and one notification is queued', async () => {
    const tk = await insertPendingTicket(db);
    const cb = successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone });
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(cb)));
    for (const a of answers) expectAck(a);

    const outcomes = (await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['applied', ...Array<string>(19).fill('duplicate')]);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when 20 copies of a failure callback arrive at once, then the tickets are released exactly once', async () => {
    const tk = await insertPendingTicket(db, { maximumTickets: 10 });
    // Another ticket holds 4 seats of the same movie: a double release would eat into them.
    expect(await holdTickets(db, tk.movieId, 4)).toBe(true);
    const cb = failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' });
    await Promise.all(Array.from({ length: 20 }, () => post(cb)));

    expect(await ticketsHeld(db, tk.movieId)).toBe(4);
    expect((await inboxRowsFor(db, tk.checkoutRequestId!)).filter((r) => r.outcome === 'applied')).toHaveLength(1);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed']);
  });

  it('when the amount differs from the ticket total, then the outcome is mismatch and the ticket is untouched', async () => {
    const tk = await insertPendingTicket(db);
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount - 1, phone: tk.phone })));

    const row = await onlyRow(tk.checkoutRequestId!);
    expect(row).toMatchObject({ outcome: 'mismatch', ticketId: tk.ticketId });
    expect(row.detail).toContain('amount');
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Pending', mpesaReceiptNumber: null, holdsTickets: 1 });
    expect(await pushRow(db, tk.pushRequestId!)).toMatchObject({ status: 'Accepted', resultCode: null });
    expect(await notificationKinds(db, tk.ticketId)).toEqual([]);
  });

  it('when the phone differs from the ticket phone, then the outcome is mismatch and the ticket is untouched', async () => {
    const tk = await insertPendingTicket(db, { phone: '254711000001' });
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: '254722000002' })));

    const row = await onlyRow(tk.checkoutRequestId!);
    expect(row.outcome).toBe('mismatch');
    expect(row.detail).toContain('phone');
    expect(row.detail).not.toContain('254722000002');
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when the phone in the callback is masked but fits the ticket phone, then the payment is applied', async () => {
    const tk = await insertPendingTicket(db, { phone: '254711000149' });
    const cb = successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: 1 });
    ((cb.Body as any).stkCallback.CallbackMetadata.Item as any[])[4].Value = '2547*****149';
    expectAck(await post(cb));
    expect((await onlyRow(tk.checkoutRequestId!)).outcome).toBe('applied');
  });

  it('when a callback names a CheckoutRequestID nobody sent, then it is unmatched and stored for an operator', async () => {
    const tk = await insertPendingTicket(db);
    const id = newCheckoutId();
    expectAck(await post(failureCallback({ checkoutRequestId: id, resultCode: 1032, resultDesc: 'Request cancelled by user' })));
    expect(await onlyRow(id)).toMatchObject({ outcome: 'unmatched', ticketId: null, checkoutRequestId: id });

    const id2 = newCheckoutId();
    expectAck(await post(successCallback({ checkoutRequestId: id2, amount: 999, phone: '254799999999' })));
    expect((await onlyRow(id2)).outcome).toBe('unmatched');
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when a success callback with an unknown id fits exactly one unanswered attempt by phone and amount, then it is applied to it and the id stored', async () => {
    const tk = await insertPendingTicket(db, { push: { status: 'Unknown' } });
    const id = newCheckoutId();
    expectAck(await post(successCallback({ checkoutRequestId: id, amount: tk.totalAmount, phone: tk.phone })));

    expect(await onlyRow(id)).toMatchObject({ outcome: 'applied', ticketId: tk.ticketId });
    expect(await pushRow(db, tk.pushRequestId!)).toMatchObject({ checkoutRequestId: id, status: 'Completed', resultCode: '0' });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
  });

  it('when two unanswered attempts fit the phone and amount, or the only one is older than 5 minutes, then the callback stays unmatched', async () => {
    const phone = '254733000111';
    const a = await insertPendingTicket(db, { phone, price: 17, push: { status: 'Sending' } });
    const b = await insertPendingTicket(db, { phone, price: 17, push: { status: 'Unknown' } });
    const id = newCheckoutId();
    expectAck(await post(successCallback({ checkoutRequestId: id, amount: a.totalAmount, phone })));
    expect((await onlyRow(id)).detail).toContain('several');

    const old = await insertPendingTicket(db, { price: 19, push: { status: 'Unknown', createdAt: new Date(Date.now() - 6 * 60_000) } });
    const id2 = newCheckoutId();
    expectAck(await post(successCallback({ checkoutRequestId: id2, amount: old.totalAmount, phone: old.phone })));
    expect((await onlyRow(id2)).outcome).toBe('unmatched');
    for (const x of [a, b, old]) expect((await ticketRow(db, x.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when the token is wrong or missing, then the body is stored as rejected, never applied, and the answer is still 200', async () => {
    const tk = await insertPendingTicket(db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    expectAck(await post(body, { token: 'cbtok_wrong_0123456789abcdef0123456789ab' }));
    let row = await lastInboxRow(db);
    expect(row).toMatchObject({ outcome: 'rejected', detail: 'wrong token', body, checkoutRequestId: null, ticketId: null });

    expectAck(await request(t.app).post('/api/payments/callback').set('Content-Type', 'application/json').send(body));
    row = await lastInboxRow(db);
    expect(row.outcome).toBe('rejected');
    expectAck(await request(t.app).post(`/api/payments/callback/${TOKEN}/extra`).set('Content-Type', 'application/json').send(body));
    expect((await lastInboxRow(db)).outcome).toBe('rejected');

    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when the body is not JSON, then it is stored exactly as it came, marked invalid, and answered 200', async () => {
    const body = '{"Body":{"stkCallback":';
    expectAck(await post(body));
    expect(await lastInboxRow(db)).toMatchObject({ outcome: 'invalid', body, detail: 'body is not JSON' });

    expectAck(await post(''));
    expect(await lastInboxRow(db)).toMatchObject({ outcome: 'invalid', body: '' });
  });

  it('when the JSON is not a Daraja callback, then it is invalid', async () => {
    expectAck(await post({ hello: 'world' }));
    const row = await lastInboxRow(db);
    expect(row.outcome).toBe('invalid');
    expect(row.detail).toContain('not an STK callback');
  });

  it('when a valid callback comes with another content type, then it is still read and applied', async () => {
    const tk = await insertPendingTicket(db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    expectAck(await post(body, { type: 'text/plain' }));
    expect((await onlyRow(tk.checkoutRequestId!)).outcome).toBe('applied');
  });

  it('when the body is 100 KB, then the first 64 KB are stored, it is invalid, and the answer is 200', async () => {
    const big = JSON.stringify({ padding: 'x'.repeat(100 * 1024) });
    expectAck(await post(big));
    const row = await lastInboxRow(db);
    expect(row.outcome).toBe('invalid');
    expect(row.body).toBe(big.slice(0, 64 * 1024));
    expect(row.detail).toContain(`${Buffer.byteLength(big)} bytes`);
  });

  it('when processing throws, then the callback is still acknowledged and its row stays received for the reconciler', async () => {
    const tk = await insertPendingTicket(db);
    vi.spyOn(t.services.payments.applier, 'processInboxRow').mockRejectedValueOnce(new Error('database hiccup'));
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })));
    expect((await lastInboxRow(db)).outcome).toBe('received');
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when a success arrives for a ticket already Failed and its seats are still free, then it becomes Paid and holds them again', async () => {
    const tk = await insertPendingTicket(db);
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1037, resultDesc: 'DS timeout user cannot be reached' })));
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1, needsRefund: 0, failureReason: null, resultCode: '0' });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed', 'Paid']);
    expect((await inboxRowsFor(db, tk.checkoutRequestId!))[1]!.detail).toContain('late payment');
  });

  it('when a success arrives for a Failed ticket whose seats were sold meanwhile, then it is Paid and flagged for refund', async () => {
    const tk = await insertPendingTicket(db, { maximumTickets: 3 });
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' })));
    expect(await holdTickets(db, tk.movieId, 3)).toBe(true); // sold to someone else
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 0, needsRefund: 1 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect((await inboxRowsFor(db, tk.checkoutRequestId!))[1]!.detail).toContain('refund');
  });

  it('when a failure arrives for a Paid ticket, then nothing changes', async () => {
    const tk = await insertPendingTicket(db);
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })));
    const paid = await ticketRow(db, tk.ticketId);
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' })));

    expect(await ticketRow(db, tk.ticketId)).toEqual(paid);
    const rows = await inboxRowsFor(db, tk.checkoutRequestId!);
    expect(rows.map((r) => r.outcome)).toEqual(['applied', 'conflict']);
    expect(rows[1]!.detail).toBe('failure (ResultCode 1032) after this attempt was confirmed paid by callback');
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    const home = await operator(t.app).get('/admin');
    expect(home.text).toMatch(/href="\/admin\/callbacks\?outcome=conflict">[1-9]\d* results? that contradicts? a confirmed payment/);
    const listed = await operator(t.app).get('/admin/callbacks?outcome=conflict');
    expect(listed.status).toBe(200);
    expect(listed.text).toContain(`data-callback-id="${rows[1]!.callbackId}"`);
  });

  it('when a failure arrives for an earlier attempt of a ticket a retry has paid, then it is a plain duplicate, not a conflict', async () => {
    const tk = await insertPendingTicket(db);
    const retryCheckout = newCheckoutId();
    await buildPush(db, { ticketId: tk.ticketId, checkoutRequestId: retryCheckout, phoneNumber: tk.phone, amount: tk.totalAmount });
    expectAck(await post(successCallback({ checkoutRequestId: retryCheckout, amount: tk.totalAmount, phone: tk.phone })));
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid' });
    expect((await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome)).toEqual(['duplicate']);
  });

  it('when a second, different receipt arrives for the attempt already paid, then nothing changes and it is a conflict', async () => {
    const tk = await insertPendingTicket(db);
    const first = newReceipt();
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt: first })));
    const paid = await ticketRow(db, tk.ticketId);
    const second = newReceipt();
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt: second })));

    expect(await ticketRow(db, tk.ticketId)).toEqual(paid);
    const rows = await inboxRowsFor(db, tk.checkoutRequestId!);
    expect(rows.map((r) => r.outcome)).toEqual(['applied', 'conflict']);
    expect(rows[1]!.detail).toBe(`receipt ${second} for an attempt already paid with ${first}`);
  });

  it('when a second, different payment arrives for a Paid ticket from another attempt, then it stays Paid and is flagged for refund', async () => {
    const tk = await insertPendingTicket(db);
    const other = newCheckoutId();
    await buildPush(db, { ticketId: tk.ticketId, phoneNumber: tk.phone, amount: tk.totalAmount, status: 'Accepted', checkoutRequestId: other });
    const receipt = newReceipt();
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt })));
    expectAck(await post(successCallback({ checkoutRequestId: other, amount: tk.totalAmount, phone: tk.phone })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: receipt, needsRefund: 1 });
    expect(await onlyRow(other)).toMatchObject({ outcome: 'applied', detail: 'second payment' });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when a failure arrives for an earlier attempt while a newer one is in flight, then only that attempt records it', async () => {
    const tk = await insertPendingTicket(db);
    const newer = await buildPush(db, { ticketId: tk.ticketId, phoneNumber: tk.phone, amount: tk.totalAmount, status: 'Accepted', checkoutRequestId: newCheckoutId() });
    expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1 });
    expect(await pushRow(db, tk.pushRequestId!)).toMatchObject({ status: 'Completed', resultCode: '1032' });
    expect((await pushRow(db, newer)).status).toBe('Accepted');
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
  });

  it('when the callback of a payment already confirmed by STK Query arrives, then its receipt is filled in', async () => {
    const tk = await insertPendingTicket(db);
    const outcome = await t.services.payments.applier.recordQueryResult(tk.ticketId, tk.checkoutRequestId!, { resultCode: '0', resultDesc: 'The service request is processed successfully.' });
    expect(outcome).toBe('applied');
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null });
    const receipt = newReceipt();
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt })));

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: receipt, transactionDate: TRANSACTION_DATE_UTC, needsRefund: 0 });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when an operator assigns an unmatched callback to a ticket, then it is applied with an audit row, and cannot be assigned twice', async () => {
    const tk = await insertPendingTicket(db, { push: false });
    const id = newCheckoutId();
    const receipt = newReceipt();
    expectAck(await post(successCallback({ checkoutRequestId: id, amount: tk.totalAmount, phone: tk.phone, receipt })));
    const row = await onlyRow(id);
    expect(row.outcome).toBe('unmatched');

    expect(await t.services.payments.applier.assignCallback(row.callbackId, tk.ticketId, 'admin')).toEqual({ ok: true, value: 'applied' });
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'operator', mpesaReceiptNumber: receipt });
    expect(await onlyRow(id)).toMatchObject({ outcome: 'applied', ticketId: tk.ticketId });
    const audit = await db.selectFrom('auditlog').selectAll().where('callbackId', '=', row.callbackId).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'admin', action: 'callback.assign', ticketId: tk.ticketId });
    const attempt = await db.selectFrom('pushrequest').selectAll().where('checkoutRequestId', '=', id).executeTakeFirstOrThrow();
    expect(attempt).toMatchObject({ ticketId: tk.ticketId, status: 'Completed', resultCode: '0' });

    expect(await t.services.payments.applier.assignCallback(row.callbackId, tk.ticketId, 'admin')).toEqual({ ok: false, error: { kind: 'not_unmatched', outcome: 'applied' } });
  });

  it('when a Paid ticket later gets every failure code and an expiry attempt, then it never goes back', async () => {
    const tk = await insertPendingTicket(db, { pendingSince: new Date(Date.now() - 3_600_000) });
    expectAck(await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })));
    for (const code of [1032, 1, 2001, 1037, 'SFC_IC0003']) {
      expectAck(await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: code, resultDesc: 'x' })));
    }
    expect(await t.services.payments.applier.expire(tk.ticketId)).toBe(false);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1, failureReason: null });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
  });
});

describe.each(dialects)('the callback when the inbox cannot take it on %s', (dialect) => {
  let t: TestApp;
  let db: Db;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN });
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (body: string) => request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(body);
  /** Runs `fn` with the inbox table renamed away, so every write to it fails as it would with the table unusable. */
  async function withoutInbox<T>(fn: () => Promise<T>): Promise<T> {
    await db.schema.alterTable('callbackinbox').renameTo('callbackinbox_away').execute();
    try {
      return await fn();
    } finally {
      await db.schema.alterTable('callbackinbox_away').renameTo('callbackinbox').execute();
    }
  }
  const spoolPath = () => t.services.payments.intake.spoolPath;
  const spooled = () => readFileSync(spoolPath(), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

  it('when the inbox cannot store a callback, then it is acknowledged 200 and kept in the spool, and once drained the ticket is Paid', async () => {
    const tk = await insertPendingTicket(db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    try {
      const res = await withoutInbox(() => post(body));
      expect(res.status).toBe(200);
      expect(res.body).toEqual(ACK);
      expect(spooled()).toMatchObject([{ body, outcome: 'received', detail: null }]);
      expect(await inboxRowsFor(db, tk.checkoutRequestId!)).toEqual([]);
      expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');

      expect(await t.services.payments.intake.drainSpool()).toEqual({ moved: 1, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      expect((await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome)).toEqual(['applied']);
      expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
      expect(existsSync(spoolPath())).toBe(false);
    } finally {
      rmSync(spoolPath(), { force: true });
    }
  });

  it('when the body cannot be stored at all, then the callback is not acknowledged (503), so nothing is silently lost', async () => {
    const body = JSON.stringify({ hello: `world ${newCheckoutId()}` });
    // Where the spool file should be there is a directory: the spool cannot take it either.
    mkdirSync(spoolPath(), { recursive: true });
    try {
      const res = await withoutInbox(() => post(body));
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
    } finally {
      rmSync(spoolPath(), { recursive: true, force: true });
    }
    expect(await db.selectFrom('callbackinbox').select('callbackId').where('body', '=', body).execute()).toEqual([]);
  });
});

describe.each(dialects)('the callback source-IP allow list on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, MPESA_CALLBACK_ALLOWED_IPS: '196.201.214.200, 196.201.214.206' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a callback comes from an address outside MPESA_CALLBACK_ALLOWED_IPS, then it is rejected and answered 200; from a listed one it is applied', async () => {
    const db = t.database.db;
    const tk = await insertPendingTicket(db);
    const cb = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    // TRUST_PROXY=loopback: the test client is on loopback, so X-Forwarded-For is believed, as behind a load balancer.
    const outside = await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('X-Forwarded-For', '10.1.2.3').set('Content-Type', 'application/json').send(cb);
    expect(outside.status).toBe(200);
    const rejected = await lastInboxRow(db);
    expect(rejected).toMatchObject({ outcome: 'rejected', sourceIp: '10.1.2.3', body: cb });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');

    const inside = await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('X-Forwarded-For', '196.201.214.206').set('Content-Type', 'application/json').send(cb);
    expect(inside.status).toBe(200);
    expect(await lastInboxRow(db)).toMatchObject({ outcome: 'applied', sourceIp: '196.201.214.206' });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
  });
});

describe.each(dialects)('what the callback writes to the log on %s', (dialect) => {
  it('when callbacks arrive, then the log names outcome and CheckoutRequestID, and never the token, the phone or the raw body', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN }, { logger: createLogger({ level: 'info', destination }) });
    try {
      const db = t.database.db;
      const tk = await insertPendingTicket(db, { phone: '254711222333' });
      const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
      const send = (token: string) => request(t.app).post(`/api/payments/callback/${token}`).set('Content-Type', 'application/json').send(body).expect(200);
      await send(TOKEN);
      await send('cbtok_wrong_0123456789abcdef0123456789ab');
      await send(TOKEN);

      const log = lines.join('');
      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'payments.callback');
      expect(events.map((e) => e.outcome)).toEqual(['applied', 'rejected', 'duplicate']);
      expect(events[0]).toMatchObject({ checkoutRequestId: tk.checkoutRequestId, ticketId: tk.ticketId });
      expect(log).not.toContain(TOKEN);
      expect(log).not.toContain('cbtok_wrong');
      expect(log).not.toContain('254711222333');
      expect(log).not.toContain('MpesaReceiptNumber');
    } finally {
      await t.close();
    }
  });
});

describe.each(dialects)('two app instances on one database (%s)', (dialect) => {
  it('when both instances receive copies of the same callback at once, then the ticket changes exactly once', async () => {
    const a = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN });
    // Instance B: its own connection pool (or SQLite connection) on A's database, built by the same composition root.
    const secondHandle = await openDatabase(a.database.url);
    const bServices = await buildServices(a.config, silentLogger, { database: secondHandle });
    const b = { app: createApp(bServices), stop: () => bServices.stop() };
    try {
      const db = a.database.db;
      const tk = await insertPendingTicket(db);
      const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
      const send = (app: typeof a.app) => request(app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(body);
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 === 0 ? a.app : b.app)));
      for (const r of answers) expect(r.status).toBe(200);
      // B is the app as it runs (it applies after answering): wait for its applier as the test harness does for A.
      await bServices.payments.intake.settled();
      await bServices.payments.inboxApplier.idle();

      const outcomes = (await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome).sort();
      expect(outcomes).toEqual(['applied', ...Array<string>(19).fill('duplicate')]);
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1 });
      expect(await ticketsHeld(db, tk.movieId)).toBe(3);
      expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
    } finally {
      await b.stop();
      await secondHandle.close();
      await a.close();
    }
  });
});
